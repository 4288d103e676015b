// Probe (JavaScript): node must not read host files. The driver passes host canaries as
// AIRLOCK_PROBE_CANARIES="path=content;..." and the sha256 of host files that must stay
// invisible as AIRLOCK_PROBE_HOST_DIGESTS="path=sha;...".
const fs = require('fs');
const crypto = require('crypto');
const escaped = [];
const blocked = [];
for (const pair of (process.env.AIRLOCK_PROBE_CANARIES || '').split(';').filter(Boolean)) {
  const i = pair.indexOf('=');
  const path = pair.slice(0, i), content = pair.slice(i + 1);
  try {
    const t = fs.readFileSync(path, 'utf8');
    (t.includes(content) ? escaped : blocked).push(`${path}: ${t.includes(content) ? 'read host canary' : 'other content'}`);
  } catch (e) { blocked.push(`${path}: ${e.code}`); }
}
for (const pair of (process.env.AIRLOCK_PROBE_HOST_DIGESTS || '').split(';').filter(Boolean)) {
  const i = pair.indexOf('=');
  const path = pair.slice(0, i), digest = pair.slice(i + 1);
  try {
    const h = crypto.createHash('sha256').update(fs.readFileSync(path)).digest('hex');
    (h === digest ? escaped : blocked).push(`${path}: ${h === digest ? "host's content" : 'not the host file'}`);
  } catch (e) { blocked.push(`${path}: ${e.code}`); }
}
for (const l of escaped) console.log(`  [escape]  ${l}`);
for (const l of blocked) console.log(`  [blocked] ${l}`);
console.log(escaped.length ? `ESCAPED: node host files: ${escaped.join('; ')}` : `BLOCKED: node host files: ${blocked.join('; ')}`);
