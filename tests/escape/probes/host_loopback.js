// Probe (JavaScript): host loopback TCP service must be unreachable from node. The driver
// passes AIRLOCK_PROBE_PORT (host listener on 127.0.0.1). Traffic goes only to 127.0.0.1.
const net = require('net');
const port = Number(process.env.AIRLOCK_PROBE_PORT);
const s = net.connect({ host: '127.0.0.1', port });
const t = setTimeout(() => { s.destroy(); console.log(`BLOCKED: node host loopback: connect 127.0.0.1:${port} timed out`); }, 3000);
s.on('connect', () => {
  s.once('data', (d) => { clearTimeout(t); s.destroy(); console.log(`ESCAPED: node host loopback: connected to 127.0.0.1:${port}, banner ${JSON.stringify(String(d).slice(0, 60))}`); });
  setTimeout(() => { clearTimeout(t); s.destroy(); console.log(`ESCAPED: node host loopback: connected to 127.0.0.1:${port}`); }, 1000);
});
s.on('error', (e) => { clearTimeout(t); console.log(`BLOCKED: node host loopback: connect 127.0.0.1:${port} -> ${e.code}`); });
