'use strict';
/*
 * Airlock's JavaScript and TypeScript kernel: stateful contexts inside one sandbox.
 *
 * The Python runner (runners/python/airlock_runner.py) starts it on a session's first
 * JavaScript or TypeScript request and relays frames: it speaks the runner protocol
 * (api/runner-protocol.schema.json) on a SOCK_STREAM unix socket, JSON Lines, at most
 * MAX_FRAME bytes a line; the program's stdout/stderr are fd 1/2, shared with the runner,
 * which the daemon attributes to the execution in progress. Requests: execute,
 * create_context, delete_context, reset_context, ping, shutdown; one at a time, in order.
 *
 * A context is a `vm` context. A cell is parsed with acorn (Debian's node-acorn) and
 * rewritten, keeping its line numbers, so that what a notebook user expects holds:
 *   - top-level let/const/class/function declarations persist across cells and may be
 *     declared again by a later cell (they become properties of the context's global);
 *   - `import x from "m"` works (it becomes a require());
 *   - top-level await: a cell that uses it runs as an async function whose declarations
 *     are hoisted to the context's global, and whose last expression is its value;
 *   - the value of the last expression statement is the cell's result.
 * TypeScript is transpiled by esbuild (Debian's) first; types are erased, never checked
 * (as in AgentCore and E2B); positions in stack traces are mapped back through esbuild's
 * source map, and its syntax errors name the cell's own lines.
 *
 * Node built-ins only, plus acorn and esbuild from the distribution.
 */

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const vm = require('vm');
const childProcess = require('child_process');
const { createRequire } = require('module');

const PROTOCOL = 1;
const MAX_FRAME = 16 * 1024 * 1024;
const TEXT_CAP = 1024 * 1024; // characters of one text form; the rest is saved to a file
const OUTPUTS_DIR = '.airlock/outputs';
const SPILLED_MIME = 'application/vnd.airlock.spilled+json';
const ACORN = process.env.AIRLOCK_ACORN || '/usr/share/nodejs/acorn';
const ESBUILD = process.env.AIRLOCK_ESBUILD || '/usr/bin/esbuild';
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const LANGUAGES = ['javascript', 'typescript'];
const REQUESTS = {
  execute: { code: 'string', context: 'name', language: 'language', clear: 'boolean' },
  create_context: { context: 'name', language: 'language' },
  delete_context: { context: 'name' },
  reset_context: { context: 'name' },
  ping: {},
  shutdown: {},
};
const REQUIRED = { execute: ['code', 'context', 'language'], create_context: ['context', 'language'],
  delete_context: ['context'], reset_context: ['context'] };
const WORKSPACE = process.cwd();

let acorn = null; // loaded on the first cell: the kernel starts without it

// --- Frames ---------------------------------------------------------------------------------

class Channel {
  constructor(fd) {
    this.fd = fd;
    this.buf = Buffer.alloc(0);
    this.discarding = false;
  }

  send(frame) {
    let data = Buffer.from(JSON.stringify(frame) + '\n', 'utf8');
    for (let budget = MAX_FRAME / 8; data.length > MAX_FRAME + 1; budget = Math.floor(budget / 2)) {
      data = Buffer.from(JSON.stringify({ ...clip(frame, budget), truncated: true }) + '\n', 'utf8');
    }
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(this.fd, data, off, data.length - off);
      } catch (err) {
        if (err.code !== 'EAGAIN') throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // full: wait 1 ms
      }
    }
  }

  // Split incoming bytes into lines; calls onLine(Buffer) or onLine(null, head) when oversized.
  feed(chunk, onLine) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) break;
      const line = this.buf.subarray(0, nl);
      this.buf = this.buf.subarray(nl + 1);
      if (this.discarding) this.discarding = false;
      else if (line.length > MAX_FRAME) onLine(null, line.subarray(0, 4096));
      else onLine(line);
    }
    if (this.buf.length > MAX_FRAME) {
      if (!this.discarding) onLine(null, this.buf.subarray(0, 4096));
      this.discarding = true;
      this.buf = Buffer.alloc(0);
    }
  }
}

function clip(value, budget) {
  if (typeof value === 'string') return value.length <= budget ? value : value.slice(0, budget) + '\n... [truncated]\n';
  if (Array.isArray(value)) return value.slice(0, Math.max(8, budget >> 6)).map((v) => clip(v, budget));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = clip(v, budget);
    return out;
  }
  return value;
}

class RequestError extends Error {
  constructor(code, message, id) {
    super(message);
    this.code = code;
    this.id = id === undefined ? null : id;
  }

  frame() {
    return { type: 'protocol_error', id: this.id, code: this.code, message: this.message };
  }
}

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' ? 'number' : typeof v;
}

function parseRequest(line) {
  let text;
  try {
    text = new util.TextDecoder('utf-8', { fatal: true }).decode(line);
  } catch {
    throw new RequestError('bad_frame', 'frame is not valid UTF-8', leadingId(line));
  }
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    throw new RequestError('bad_frame', `frame is not valid JSON: ${err.message}`, leadingId(line));
  }
  if (!frame || typeof frame !== 'object' || Array.isArray(frame)) {
    throw new RequestError('bad_frame', `frame must be a JSON object, got ${typeName(frame)}`);
  }
  const id = typeof frame.id === 'string' && NAME.test(frame.id) ? frame.id : null;
  const bad = (message) => new RequestError('bad_frame', message, id);
  if (!('type' in frame)) throw bad("field 'type' is required");
  if (typeof frame.type !== 'string') throw bad(`field 'type' must be a string, got ${typeName(frame.type)}`);
  const fields = REQUESTS[frame.type];
  if (!fields || !Object.prototype.hasOwnProperty.call(REQUESTS, frame.type)) {
    throw bad(`unknown type ${JSON.stringify(frame.type).slice(0, 80)}; expected one of: ${Object.keys(REQUESTS).join(', ')}`);
  }
  if (!('id' in frame)) throw bad(`field 'id' is required for type '${frame.type}'`);
  if (id === null) throw bad("field 'id' must be a string of 1 to 64 characters from [A-Za-z0-9_-]");
  for (const key of Object.keys(frame)) {
    if (key !== 'type' && key !== 'id' && !(key in fields)) throw bad(`unexpected field '${key}' for type '${frame.type}'`);
  }
  for (const key of REQUIRED[frame.type] || []) {
    if (!(key in frame)) throw bad(`field '${key}' is required for type '${frame.type}'`);
  }
  for (const [key, kind] of Object.entries(fields)) {
    if (!(key in frame)) continue;
    const v = frame[key];
    const ok = kind === 'string' ? typeof v === 'string'
      : kind === 'boolean' ? typeof v === 'boolean'
        : kind === 'name' ? typeof v === 'string' && NAME.test(v)
          : LANGUAGES.includes(v);
    if (!ok) {
      const want = kind === 'name' ? 'a string of 1 to 64 characters from [A-Za-z0-9_-]'
        : kind === 'language' ? `one of ${LANGUAGES.join(', ')}` : `a ${kind}`;
      throw bad(`field '${key}' must be ${want}, got ${JSON.stringify(v).slice(0, 80)}`);
    }
  }
  return frame;
}

function leadingId(data) {
  const m = /^\s*\{\s*(?:"type"\s*:\s*"[a-z_]{1,32}"\s*,\s*)?"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"/.exec(
    data.subarray(0, 4096).toString('latin1'));
  return m ? m[1] : null;
}

// --- Rich values --------------------------------------------------------------------------------

function isPlainData(value, depth = 0) {
  if (value === null || ['string', 'boolean'].includes(typeof value)) return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth > 32) return false;
  if (Array.isArray(value)) return value.every((v) => isPlainData(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  const plain = proto === null || Object.getPrototypeOf(proto) === null;
  return plain && Object.values(value).every((v) => isPlainData(v, depth + 1));
}

class Outlet {
  constructor(channel, id, label) {
    this.channel = channel;
    this.id = id;
    this.label = label;
    this.seq = 0;
  }

  spill(text, ext) {
    const relative = `${OUTPUTS_DIR}/${this.label}-${this.seq}.${ext}`;
    try {
      fs.mkdirSync(path.join(WORKSPACE, OUTPUTS_DIR), { recursive: true });
      fs.writeFileSync(path.join(WORKSPACE, relative), text);
    } catch {
      return null;
    }
    return relative;
  }

  // Keep each form within TEXT_CAP: the rest is saved in the workspace and named.
  limit(bundle) {
    const spilled = [];
    for (const [mime, data] of Object.entries(bundle)) {
      const isText = mime.startsWith('text/') && typeof data === 'string';
      const text = isText ? data : JSON.stringify(data);
      if (text.length <= TEXT_CAP) continue;
      const ext = mime === 'text/html' ? 'html' : isText ? 'txt' : 'json';
      const where = this.spill(text, ext);
      if (isText) {
        bundle[mime] = `${data.slice(0, TEXT_CAP)}\n... [truncated: ${data.length - TEXT_CAP} more characters` +
          `${where ? `; the whole is ${where} in the workspace` : ''}]\n`;
      } else {
        delete bundle[mime];
      }
      spilled.push({ mime, bytes: Buffer.byteLength(text), path: where });
    }
    if (spilled.length) bundle[SPILLED_MIME] = spilled;
    return bundle;
  }

  emit(type, bundle, extra) {
    this.seq += 1;
    this.channel.send({ type, id: this.id, data: this.limit(bundle), ...extra });
  }
}

function mimeBundle(value) {
  const bundle = { 'text/plain': util.inspect(value, { depth: 4, maxArrayLength: 200, maxStringLength: Infinity, breakLength: 100 }) };
  if (value && typeof value === 'object' && typeof value.toJSON === 'function') {
    try {
      bundle['application/json'] = JSON.parse(JSON.stringify(value));
    } catch { /* a toJSON that fails: text only */ }
  } else if (isPlainData(value)) {
    bundle['application/json'] = value;
  }
  return bundle;
}

// --- Cells: parse, rewrite, run -------------------------------------------------------------------

function loadAcorn() {
  if (!acorn) acorn = require(ACORN);
  return acorn;
}

// Names a declaration pattern binds.
function boundNames(pattern, out) {
  if (!pattern) return out;
  switch (pattern.type) {
    case 'Identifier': out.push(pattern.name); break;
    case 'ObjectPattern': for (const p of pattern.properties) boundNames(p.type === 'RestElement' ? p.argument : p.value, out); break;
    case 'ArrayPattern': for (const e of pattern.elements) boundNames(e, out); break;
    case 'AssignmentPattern': boundNames(pattern.left, out); break;
    case 'RestElement': boundNames(pattern.argument, out); break;
    default: break;
  }
  return out;
}

// Does the cell await at its top level (outside any function)?
function awaitsAtTop(node) {
  if (!node || typeof node.type !== 'string') return false;
  if (node.type === 'AwaitExpression' || (node.type === 'ForOfStatement' && node.await)) return true;
  if (/Function/.test(node.type) || node.type === 'ClassBody') return false;
  for (const key of Object.keys(node)) {
    if (key === 'loc') continue;
    const child = node[key];
    if (Array.isArray(child)) {
      if (child.some((c) => c && typeof c.type === 'string' && awaitsAtTop(c))) return true;
    } else if (child && typeof child.type === 'string' && awaitsAtTop(child)) {
      return true;
    }
  }
  return false;
}

function newlines(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

// One import declaration as require() assignments, or null for a type-only one.
function importText(node, asDeclaration) {
  const source = JSON.stringify(node.source.value);
  const req = `require(${source})`;
  if (!node.specifiers.length) return `${req};`;
  const parts = [];
  const names = [];
  for (const s of node.specifiers) {
    names.push(s.local.name);
    if (s.type === 'ImportDefaultSpecifier') parts.push(`${s.local.name} = __airlock_default(${req})`);
    else if (s.type === 'ImportNamespaceSpecifier') parts.push(`${s.local.name} = ${req}`);
    else {
      const imported = s.imported.type === 'Identifier' ? s.imported.name : s.imported.value;
      parts.push(`${s.local.name} = ${req}[${JSON.stringify(imported)}]`);
    }
  }
  return { text: `${asDeclaration ? 'var ' : ''}${parts.join(', ')};`, names };
}

/*
 * Rewrite a cell so that its top-level bindings land on the context's global and survive
 * into later cells. Line numbers never change (columns may, on rewritten lines).
 * Returns { code, wrapped }: wrapped cells evaluate to a promise of { value }.
 */
function rewrite(source) {
  const { parse } = loadAcorn();
  const options = { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true,
    allowImportExportEverywhere: true, allowHashBang: true, locations: true };
  let text = source;
  // `{a: 1}` alone is an object, not a block (as in Node's REPL).
  if (/^\s*{/.test(source) && !/;\s*$/.test(source)) {
    try {
      parse(`(${source}\n)`, options);
      text = `(${source}\n)`;
    } catch { /* a block after all */ }
  }
  const program = parse(text, options);
  const wrapped = program.body.some(awaitsAtTop);
  const edits = []; // [start, end, replacement]
  const hoisted = new Set();
  const body = program.body;
  for (let i = 0; i < body.length; i++) {
    let node = body[i];
    if (node.type === 'ExportNamedDeclaration' || node.type === 'ExportDefaultDeclaration') {
      if (node.declaration && node.type === 'ExportNamedDeclaration') {
        edits.push([node.start, node.declaration.start, '']);
        node = node.declaration;
      } else if (node.type === 'ExportDefaultDeclaration') {
        edits.push([node.start, node.declaration.start, '']);
        node = node.declaration;
        if (!/Declaration$/.test(node.type)) continue;
      } else {
        // export { a } / export * from "m": the names are globals already
        edits.push([node.start, node.end, '\n'.repeat(newlines(text.slice(node.start, node.end)))]);
        continue;
      }
    }
    if (node.type === 'ImportDeclaration') {
      if (node.importKind === 'type') continue;
      const made = importText(node, !wrapped);
      if (typeof made === 'string') {
        edits.push([node.start, node.end, made + '\n'.repeat(newlines(text.slice(node.start, node.end)))]);
        continue;
      }
      made.names.forEach((n) => hoisted.add(n));
      edits.push([node.start, node.end, made.text + '\n'.repeat(newlines(text.slice(node.start, node.end)))]);
      continue;
    }
    if (node.type === 'VariableDeclaration') {
      const names = [];
      node.declarations.forEach((d) => boundNames(d.id, names));
      const keywordEnd = node.start + node.kind.length;
      // `let x;` empties x, even if an earlier cell gave it a value (a `var x;` would not).
      const empty = node.kind === 'let' ? node.declarations.filter((d) => !d.init) : [];
      if (!wrapped) {
        edits.push([node.start, keywordEnd, 'var']); // let/const become var: declarable again
        // A rewritten statement always ends with ';': `b = undefined` + a next line starting
        // with `[` would otherwise read as one expression where the original did not. (Edits
        // at one place apply in the order pushed, each before the last: ';' goes first.)
        if (text[node.end - 1] !== ';') edits.push([node.end, node.end, ';']);
        empty.forEach((d) => edits.push([d.end, d.end, ' = undefined']));
        continue;
      }
      names.forEach((n) => hoisted.add(n));
      // `const {a} = o, b = 2` -> `({a} = o, b = 2)`; a `var` declarator with no value is dropped.
      const parts = node.declarations.filter((d) => d.init || empty.includes(d))
        .map((d) => (d.init ? text.slice(d.start, d.end) : `${text.slice(d.start, d.end)} = undefined`));
      const keep = newlines(text.slice(node.start, node.end));
      // The leading ';' keeps the line before from being called: `f()\n(a = 1)`.
      const statement = parts.length ? `;(${parts.join(', ')});` : ';';
      edits.push([node.start, node.end, statement.replace(/\n/g, ' ') + '\n'.repeat(keep)]);
      continue;
    }
    if ((node.type === 'FunctionDeclaration' || node.type === 'ClassDeclaration') && node.id) {
      if (node.type === 'ClassDeclaration' || wrapped) {
        // class C {} -> C = class C {}: a class declared again in a later cell just replaces it
        hoisted.add(node.id.name);
        edits.push([node.start, node.start, `${node.id.name} = `]);
        edits.push([node.end, node.end, ';']);
      }
      continue;
    }
    if (wrapped && i === body.length - 1 && node.type === 'ExpressionStatement') {
      // The statement, not its expression: `({a})` has parentheses outside the expression.
      const end = text[node.end - 1] === ';' ? node.end - 1 : node.end;
      edits.push([node.start, node.start, 'return { value: (']);
      edits.push([end, end, ') }']);
    }
  }
  edits.sort((a, b) => b[0] - a[0] || b[1] - a[1]);
  let code = text;
  for (const [start, end, replacement] of edits) code = code.slice(0, start) + replacement + code.slice(end);
  if (wrapped) {
    const names = [...hoisted];
    const declare = names.length ? `var ${names.join(', ')}; ` : '';
    code = `${declare}(async () => {${code}\n})()`;
  } else if (hoisted.size) {
    code = `var ${[...hoisted].join(', ')}; ${code}`;
  }
  return { code, wrapped, lastIsExpression: body.length > 0 && body[body.length - 1].type === 'ExpressionStatement' };
}

// --- TypeScript ------------------------------------------------------------------------------------

function transpile(source, filename) {
  const run = childProcess.spawnSync(ESBUILD, ['--loader=ts', '--sourcemap=inline', `--sourcefile=${filename}`,
    '--log-level=error', '--color=false', '--target=esnext', '--keep-names'], { input: source, maxBuffer: 64 * 1024 * 1024 });
  if (run.error) {
    const err = new Error(`cannot run the TypeScript transpiler (${ESBUILD}): ${run.error.message}`);
    err.name = 'TranspilerError';
    throw err;
  }
  if (run.status !== 0) {
    const message = run.stderr.toString('utf8').trim();
    const first = /\[ERROR\] (.*)/.exec(message);
    const err = new SyntaxError(first ? first[1] : message.split('\n')[0] || 'TypeScript transpilation failed');
    err.airlockTraceback = message.split('\n').map((l) => `${l}\n`);
    throw err;
  }
  let code = run.stdout.toString('utf8');
  let map = null;
  const marker = code.lastIndexOf('//# sourceMappingURL=data:application/json;base64,');
  if (marker >= 0) {
    try {
      map = decodeMappings(JSON.parse(Buffer.from(code.slice(marker).split(',')[1], 'base64').toString('utf8')).mappings);
    } catch { map = null; }
    code = code.slice(0, marker);
  }
  return { code, map };
}

const VLQ = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// Source map "mappings" -> per generated line, [generatedColumn, sourceLine, sourceColumn] (0-based).
function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0, srcCol = 0, srcIndex = 0, nameIndex = 0;
  for (const lineText of mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (!seg) continue;
      const values = [];
      let value = 0, shift = 0;
      for (const ch of seg) {
        const digit = VLQ.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) { shift += 5; continue; }
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0; shift = 0;
      }
      genCol += values[0];
      if (values.length >= 4) {
        srcIndex += values[1]; srcLine += values[2]; srcCol += values[3];
        if (values.length >= 5) nameIndex += values[4];
        segments.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

function mapPosition(map, line, column) {
  const segments = map && map[line - 1];
  if (!segments || !segments.length) return [line, column];
  let best = segments[0];
  for (const s of segments) if (s[0] <= column - 1) best = s;
  return [best[1] + 1, best[2] + 1];
}

// --- Errors as data -----------------------------------------------------------------------------

function describeError(err, cells) {
  if (err && err.airlockTraceback) {
    return { name: err.name, value: err.message, traceback: err.airlockTraceback };
  }
  if (err && typeof err === 'object' && typeof err.stack === 'string') {
    const name = typeof err.name === 'string' && err.name ? err.name : 'Error';
    const message = typeof err.message === 'string' ? err.message : '';
    const traceback = [`${name}: ${message}\n`.replace(/: \n$/, '\n')];
    const frame = /^\s+at (?:(.*) \()?(<cell \d+>):(\d+):(\d+)\)?$/;
    for (const line of err.stack.split('\n')) {
      if (!/^\s+at /.test(line)) continue;
      if (/\(node:|^\s+at node:|airlock_kernel\.js|\[eval\]|evalmachine/.test(line)) continue;
      const m = frame.exec(line);
      const cell = m && cells.get(m[2]);
      if (cell) {
        const [l, c] = mapPosition(cell.map, Number(m[3]), Number(m[4]));
        if (l > cell.lines.length) continue; // the async wrapper's own closing line
        traceback.push(`    at ${m[1] ? `${m[1]} (` : ''}${m[2]}:${l}:${c}${m[1] ? ')' : ''}\n`);
        const src = cell.lines[l - 1];
        if (src !== undefined && src.trim()) traceback.push(`        ${src.trim()}\n`);
      } else {
        traceback.push(`${line}\n`);
      }
    }
    return { name, value: message, traceback };
  }
  const shown = util.inspect(err);
  return { name: 'Uncaught', value: shown, traceback: [`Uncaught ${shown}\n`] };
}

function syntaxError(err, cell) {
  // acorn: "Unexpected token (2:4)" with err.loc
  const message = String(err.message).replace(/ \(\d+:\d+\)$/, '');
  const traceback = [];
  if (err.loc) {
    const line = err.loc.line;
    traceback.push(`  ${cell.filename}, line ${line}\n`);
    const src = cell.lines[line - 1];
    if (src !== undefined) {
      traceback.push(`    ${src}\n`);
      traceback.push(`    ${' '.repeat(err.loc.column)}^\n`);
    }
  }
  traceback.push(`SyntaxError: ${message}\n`);
  return { name: 'SyntaxError', value: message, traceback };
}

// --- Contexts -------------------------------------------------------------------------------------

const INTERRUPTED = Symbol('interrupted');

class Context {
  constructor(name, language, kernel) {
    this.name = name;
    this.language = language;
    this.count = 0;
    this.cells = new Map(); // "<cell N>" -> {lines, map}: tracebacks show each frame's line
    const sandbox = {
      console, process, Buffer, URL, URLSearchParams, TextEncoder, TextDecoder, AbortController,
      AbortSignal, Event, EventTarget, atob, btoa, structuredClone, queueMicrotask, performance,
      setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate,
      fetch: globalThis.fetch, crypto: globalThis.crypto,
      require: createRequire(path.join(WORKSPACE, '[cell]')),
      display: (...values) => kernel.display(values),
      __airlock_default: (m) => (m && m.__esModule ? m.default : m),
    };
    this.global = vm.createContext(sandbox, { name: `${language}:${name}` });
    vm.runInContext('globalThis.global = globalThis;', this.global);
    Object.defineProperty(this.global, '__airlock_default', { enumerable: false });
  }
}

class Kernel {
  constructor(channel) {
    this.channel = channel;
    this.contexts = new Map();
    this.outlet = null;
    this.interrupt = null; // rejects the running cell's wait on SIGINT
    this.queue = [];
    this.busy = false;
  }

  display(values) {
    if (!this.outlet) return;
    for (const value of values) {
      this.outlet.emit('display', mimeBundle(value));
    }
  }

  onLine(line, head) {
    this.queue.push([line, head]);
    if (!this.busy) this.pump();
  }

  async pump() {
    this.busy = true;
    while (this.queue.length) {
      const [line, head] = this.queue.shift();
      let id = null;
      try {
        if (line === null) {
          throw new RequestError('frame_too_large', `frame exceeds ${MAX_FRAME} bytes; the line was discarded`, leadingId(head));
        }
        const request = parseRequest(line);
        id = request.id;
        await this[request.type](request);
      } catch (err) {
        if (err instanceof RequestError) this.channel.send(err.frame());
        else this.channel.send(new RequestError('internal_error', `kernel failed: ${err && err.stack}`, id).frame());
      }
    }
    this.busy = false;
  }

  context(request) {
    const ctx = this.contexts.get(request.context);
    if (!ctx) throw new RequestError('context_not_found', `no context named '${request.context}'`, request.id);
    return ctx;
  }

  ack(request, extra) {
    this.channel.send({ type: 'ack', id: request.id, request: request.type, ...extra });
  }

  create_context(request) {
    if (this.contexts.has(request.context)) {
      throw new RequestError('context_exists', `context '${request.context}' already exists`, request.id);
    }
    this.contexts.set(request.context, new Context(request.context, request.language, this));
    this.ack(request, { context: request.context });
  }

  delete_context(request) {
    this.context(request);
    this.contexts.delete(request.context);
    this.ack(request, { context: request.context });
  }

  reset_context(request) {
    const ctx = this.context(request);
    this.contexts.set(ctx.name, new Context(ctx.name, ctx.language, this));
    this.ack(request, { context: ctx.name });
  }

  ping(request) {
    this.ack(request);
  }

  shutdown(request) {
    this.ack(request);
    process.exit(0);
  }

  async execute(request) {
    let ctx = this.contexts.get(request.context);
    if (ctx && ctx.language !== request.language) {
      throw new RequestError('wrong_language', `context '${ctx.name}' is a ${ctx.language} context, not ${request.language}`, request.id);
    }
    if (!ctx || request.clear) {
      ctx = new Context(request.context, request.language, this);
      this.contexts.set(ctx.name, ctx);
    }
    ctx.count += 1;
    const count = ctx.count;
    const filename = `<cell ${count}>`;
    const cell = { filename, lines: request.code.split('\n'), map: null };
    ctx.cells.set(filename, cell); // a later cell's error may pass through this one's functions
    const outlet = new Outlet(this.channel, request.id, `${ctx.name}-${count}`);
    this.outlet = outlet;
    const started = process.hrtime.bigint();
    let status = 'ok';
    let error = null;
    let value;
    let hasValue = false;
    try {
      let source = request.code;
      if (ctx.language === 'typescript') {
        const made = transpile(source, filename);
        source = made.code;
        cell.map = made.map;
      }
      let plan;
      try {
        plan = rewrite(source);
      } catch (err) {
        if (err instanceof SyntaxError && err.loc && ctx.language === 'javascript') {
          throw Object.assign(err, { airlockTraceback: syntaxError(err, cell).traceback, message: syntaxError(err, cell).value });
        }
        throw err;
      }
      const script = new vm.Script(plan.code, { filename });
      let result = script.runInContext(ctx.global, { breakOnSigint: true, displayErrors: false });
      if (plan.wrapped) {
        const stop = new Promise((resolve) => { this.interrupt = () => resolve(INTERRUPTED); });
        result = await Promise.race([result, stop]);
        if (result === INTERRUPTED) throw Object.assign(new Error('the execution was interrupted'), { name: 'Interrupted', interrupted: true });
        hasValue = result !== undefined && result !== null && typeof result === 'object' && 'value' in result;
        value = hasValue ? result.value : undefined;
      } else {
        hasValue = plan.lastIsExpression;
        value = result;
      }
    } catch (err) {
      const interrupted = (err && err.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') || (err && err.interrupted);
      status = interrupted ? 'interrupted' : 'error';
      error = interrupted ? { name: 'Interrupted', value: 'the execution was interrupted', traceback: ['Interrupted: the execution was interrupted\n'] }
        : describeError(err, ctx.cells);
    } finally {
      this.interrupt = null;
    }
    if (status === 'ok' && hasValue && value !== undefined) {
      try {
        outlet.emit('result', mimeBundle(value), { execution_count: count });
      } catch (err) {
        status = 'error';
        error = describeError(err, ctx.cells);
      }
    }
    this.outlet = null;
    if (error) this.channel.send({ type: 'error', id: request.id, ...error });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    this.channel.send({ type: 'done', id: request.id, status, execution_count: count,
      duration_ms: Math.round(ms * 1000) / 1000, state_kept: true });
  }
}

function main(controlFd) {
  const channel = new Channel(controlFd);
  const kernel = new Kernel(channel);
  // Errors user code leaves behind (a rejected promise nobody awaited, a throw in a timer)
  // are the program's to see on stderr, as in Node's REPL; the kernel lives on.
  process.on('uncaughtException', (err) => { process.stderr.write(`Uncaught ${util.inspect(err)}\n`); });
  process.on('unhandledRejection', (err) => { process.stderr.write(`Unhandled rejection: ${util.inspect(err)}\n`); });
  process.on('SIGINT', () => { if (kernel.interrupt) kernel.interrupt(); });
  const socket = new net.Socket({ fd: controlFd, readable: true, writable: false });
  socket.on('data', (chunk) => channel.feed(chunk, (line, head) => kernel.onLine(line, head)));
  socket.on('end', () => process.exit(0));
  socket.on('error', () => process.exit(0));
  channel.send({ type: 'ready', protocol: PROTOCOL, pid: process.pid, node: process.versions.node });
}

if (typeof module !== 'undefined' && require.main === module) main(3);
else module.exports = main;
