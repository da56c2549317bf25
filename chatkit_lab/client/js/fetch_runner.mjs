// chatkit-lab: run a user's own ChatKit `fetch` as written, between the kit and a target.
//
// One process per diagnosis. Python and this script speak JSON lines over their own channel (a
// socket whose descriptor is the first argument; bodies in base64). The user's console calls
// go over it too, one record per call, tagged with the ChatKit request they belong to; what
// the module writes to fd 1 or 2 itself is the process's own output.
//
// Inside the user's module the global `fetch` is a bridge: each call is reported to Python,
// which performs it on the wire through the kit's transport and answers with the real response
// (status, headers, then the body chunk by chunk). What the fetch hands back to ChatKit is read
// the way ChatKit reads it (its body to the end) and reported too.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

import {
  als, b64, captureConsole, channel, describe, emitConsole, hidePaths, hidePathsOf, makeControl,
  safeText, send, unb64,
} from './runner_io.mjs';
import { TS_FILE, transpile } from './ts_hooks.mjs';

const PIECE = 64 * 1024; // largest body piece per protocol line
const QUIET_MS = 40;
const SETTLE_MAX_MS = 1500;
const MIN_NODE = 18;

const requests = new Map(); // request id -> state
const wireResponses = new WeakSet();
let userFetch = null;

// -- the bridge: the global fetch inside the user's module -----------------------------------

function absolute(input, base) {
  if (typeof input !== 'string') return input;
  try {
    return new URL(input).href;
  } catch {
    return new URL(input, base).href;
  }
}

async function bridgeFetch(input, init) {
  const state = als.getStore();
  if (!state || state.finished) {
    throw new TypeError('chatkit-lab: fetch was called outside a ChatKit request (at import '
      + 'time, from a timer, or after the request finished); the kit performs only wire calls '
      + 'made while it handles a request');
  }
  const request = new Request(absolute(input, state.url), init);
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : null;
  if (request.signal.aborted) throw request.signal.reason;
  const call = ++state.calls;
  state.pending += 1;
  state.lastActivity = Date.now();
  return new Promise((resolveCall, rejectCall) => {
    state.wires.set(call, { resolve: resolveCall, reject: rejectCall, url: request.url });
    request.signal.addEventListener('abort', () => {
      const wire = state.wires.get(call);
      if (!wire) return;
      wire.reject(request.signal.reason);
      wire.finish?.(request.signal.reason);
    }, { once: true });
    send({
      op: 'wire', id: state.id, call, url: request.url, method: request.method,
      headers: [...request.headers], body: body ? b64(body) : null,
    });
  });
}

// The body as it arrives: chunks wait in a queue until read, so a stream cut on the wire still
// yields every chunk that came before the cut, then the error.
function bodyStream(wire) {
  const queue = [];
  let end = null;
  let wake = null;
  wire.push = (bytes) => {
    queue.push(bytes);
    wake?.();
  };
  wire.finish = (error) => {
    end ??= { error };
    wake?.();
  };
  return new ReadableStream({
    async pull(controller) {
      while (!queue.length && !end) await new Promise((resolveWait) => { wake = resolveWait; });
      wake = null;
      if (queue.length) controller.enqueue(queue.shift());
      else if (end.error) controller.error(end.error);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

function decoded(stream, encoding) {
  const codings = (encoding ?? '').toLowerCase().split(',').map((c) => c.trim()).filter(Boolean);
  let node = null;
  for (const coding of codings.reverse()) {
    const step = { gzip: zlib.createGunzip, 'x-gzip': zlib.createGunzip,
      deflate: zlib.createInflate, br: zlib.createBrotliDecompress }[coding];
    if (!step) continue;
    node = (node ?? Readable.fromWeb(stream)).pipe(step());
  }
  return node ? Readable.toWeb(node) : stream;
}

function wireHead(state, msg) {
  const wire = state.wires.get(msg.call);
  if (!wire) return;
  try {
    if (msg.status < 200 || msg.status > 599) {
      throw new Error(`the target answered with status ${msg.status}`);
    }
    const headers = new Headers();
    for (const [name, value] of msg.headers) headers.append(name, value);
    const stream = bodyStream(wire);
    const empty = [204, 205, 304].includes(msg.status);
    const response = new Response(empty ? null : decoded(stream, headers.get('content-encoding')),
      { status: msg.status, statusText: msg.statusText ?? '', headers });
    Object.defineProperty(response, 'url', { value: wire.url });
    wireResponses.add(response);
    wire.resolve(response);
  } catch (error) {
    wireFail(state, { call: msg.call, message: error.message });
  }
}

function wireChunk(state, msg) {
  state.lastActivity = Date.now();
  state.wires.get(msg.call)?.push?.(unb64(msg.data));
}

function wireEnd(state, msg) {
  const wire = state.wires.get(msg.call);
  if (!wire) return;
  state.wires.delete(msg.call);
  state.pending -= 1;
  state.lastActivity = Date.now();
  wire.finish?.(msg.error ? new TypeError('terminated', { cause: new Error(msg.error) }) : null);
}

function wireFail(state, msg) {
  const wire = state.wires.get(msg.call);
  if (!wire) return;
  state.wires.delete(msg.call);
  state.pending -= 1;
  state.lastActivity = Date.now();
  const error = new TypeError('fetch failed', { cause: new Error(msg.message) });
  wire.reject(error);
  wire.finish?.(error);
}

// -- one ChatKit request ----------------------------------------------------------------------

function isResponse(value) {
  return value instanceof Response
    || (value !== null && typeof value === 'object' && typeof value.status === 'number'
      && typeof value.headers?.entries === 'function');
}

async function forwardReply(state, reply, maxBytes) {
  if (!isResponse(reply)) {
    const error = new TypeError(`the fetch resolved to ${safeText(reply).slice(0, 200)}, `
      + 'not a Response');
    send({ op: 'threw', id: state.id, error: describe(error), phase: 'reply' });
    return;
  }
  const origin = wireResponses.has(reply) ? 'wire' : state.calls > 0 ? 'rebuilt' : 'local';
  send({
    op: 'reply_head', id: state.id, status: reply.status, statusText: reply.statusText ?? '',
    headers: [...reply.headers.entries()], origin, wire_calls: state.calls,
  });
  const end = { op: 'reply_end', id: state.id, truncated: false };
  let total = 0;
  try {
    const body = reply.body ?? (typeof reply.arrayBuffer === 'function'
      ? new Response(await reply.arrayBuffer()).body : null);
    if (body) {
      state.reader = body.getReader();
      for (;;) {
        const { done, value } = await state.reader.read();
        if (done) break;
        const bytes = value instanceof Uint8Array ? value : new TextEncoder().encode(String(value));
        for (let at = 0; at < bytes.byteLength && total < maxBytes; at += PIECE) {
          const piece = bytes.subarray(at, Math.min(at + PIECE, at + maxBytes - total));
          total += piece.byteLength;
          send({ op: 'reply_chunk', id: state.id, data: b64(piece) });
        }
        state.replyChunks += 1;
        if (total >= maxBytes) {
          end.truncated = true;
          await state.reader.cancel('chatkit-lab: body size cap reached').catch(() => {});
          break;
        }
      }
    }
  } catch (error) {
    end.error = describe(error);
  }
  send(end);
}

async function settle(state) {
  const started = Date.now();
  while (Date.now() - started < SETTLE_MAX_MS) {
    await new Promise((done) => setTimeout(done, 10));
    if (state.pending <= 0 && Date.now() - state.lastActivity >= QUIET_MS) return;
  }
}

async function handleFetch(msg, options) {
  const state = {
    id: msg.id, url: msg.url, calls: 0, pending: 0, wires: new Map(), replyChunks: 0,
    consoleBytes: 0, lastActivity: Date.now(), finished: false, reader: null,
    abort: new AbortController(),
  };
  requests.set(msg.id, state);
  await als.run(state, async () => {
    const init = {
      method: msg.method, headers: Object.fromEntries(msg.headers),
      body: msg.body == null ? undefined : new TextDecoder().decode(unb64(msg.body)),
      signal: state.abort.signal,
    };
    let reply;
    try {
      reply = await userFetch(msg.url, init);
    } catch (error) {
      send({ op: 'threw', id: state.id, error: describe(error), phase: 'fetch' });
      return;
    }
    await forwardReply(state, reply, options.maxBodyBytes);
  });
  await settle(state);
  state.finished = true;
  requests.delete(msg.id);
  send({ op: 'console_end', id: msg.id });
  send({ op: 'done', id: msg.id, controls_dropped: state.controlsDropped ?? 0 });
}

function abortRequest(msg) {
  const state = requests.get(msg.id);
  if (!state) return;
  const reason = new DOMException(msg.reason || 'aborted by chatkit-lab', 'AbortError');
  state.abort.abort(reason);
  state.reader?.cancel(reason).catch(() => {});
  for (const call of [...state.wires.keys()]) wireFail(state, { call, message: reason.message });
}

// -- loading the user's module ----------------------------------------------------------------

function fatal(kind, message) {
  send({ op: 'fatal', kind, message: hidePaths(message) });
}

async function loadUserModule(msg) {
  const file = path.resolve(msg.path);
  hidePathsOf(file);
  const name = path.basename(file);
  if (Number(process.versions.node.split('.')[0]) < MIN_NODE) {
    return fatal('node', `running a fetch needs Node ${MIN_NODE} or newer `
      + `(this is ${process.version})`);
  }
  if (TS_FILE.test(file)) {
    try {
      transpile('', file);
    } catch {
      return fatal('dependency', `${name}: TypeScript needs the kit's JavaScript dependencies `
        + "(the 'sucrase' package): run 'npm ci' in the kit's client/js folder");
    }
    try {
      transpile(await readFile(file, 'utf8'), file);
    } catch (error) {
      return fatal('transpile', `${name} does not transpile: ${error.message}`);
    }
    const nodeModule = await import('node:module');
    if (typeof nodeModule.register !== 'function') {
      return fatal('node', `${name}: TypeScript needs Node 20.6 or newer (this is `
        + `${process.version}); or transpile it to .mjs yourself`);
    }
    nodeModule.register(new URL('./ts_hooks.mjs', import.meta.url));
  }
  globalThis.fetch = bridgeFetch;
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    const detail = describe(error);
    return fatal('import', `${name} cannot be loaded: ${detail.name}: ${detail.message}`);
  }
  const exported = mod.default;
  const declared = mod.kind;
  if (typeof exported !== 'function') {
    return fatal('shape', `${name}: the default export is ${typeof exported}; it must be a fetch `
      + '(input, init) => Promise<Response>, or a factory (ctx) => fetch');
  }
  const isAsync = exported.constructor?.name === 'AsyncFunction';
  const factory = declared === 'factory'
    || (declared !== 'fetch' && exported.length === 1 && !isAsync);
  if (!factory) {
    userFetch = exported;
    return send({ op: 'ready', shape: 'fetch', node: process.versions.node });
  }
  const ctx = {
    token: process.env[msg.tokenEnv] ?? '', userId: msg.userId ?? '', control: makeControl(),
  };
  let made;
  try {
    made = await exported(ctx);
  } catch (error) {
    const detail = describe(error);
    return fatal('factory', `${name}: the factory threw ${detail.name}: ${detail.message}`);
  }
  if (typeof made !== 'function') {
    return fatal('shape', `${name}: the default export was called as a factory (ctx) => fetch `
      + `but returned ${typeof made}, not a function; export \`kind = "fetch"\` if it is a fetch`);
  }
  userFetch = made;
  return send({ op: 'ready', shape: 'factory', node: process.versions.node });
}

// -- main -------------------------------------------------------------------------------------

async function main() {
  captureConsole();
  // As in a page, an error nobody catches is printed, and the page goes on.
  const uncaught = (prefix) => (error) => {
    const { name, message } = describe(error);
    emitConsole('error', `${prefix} ${name}: ${message}`);
  };
  process.on('unhandledRejection', uncaught('Uncaught (in promise)'));
  process.on('uncaughtException', uncaught('Uncaught'));
  const options = { maxBodyBytes: 4 * 1024 * 1024 };
  const lines = readline.createInterface({ input: channel, crlfDelay: Infinity });
  for await (const line of lines) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    const state = requests.get(msg.id);
    if (msg.op === 'load') {
      options.maxBodyBytes = msg.maxBodyBytes ?? options.maxBodyBytes;
      await loadUserModule(msg);
    } else if (msg.op === 'fetch') {
      handleFetch(msg, options).catch((error) => {
        send({ op: 'threw', id: msg.id, error: describe(error), phase: 'runner' });
        send({ op: 'done', id: msg.id });
      });
    } else if (msg.op === 'abort') {
      abortRequest(msg);
    } else if (msg.op === 'close') {
      break;
    } else if (state && msg.op === 'wire_head') {
      wireHead(state, msg);
    } else if (state && msg.op === 'wire_chunk') {
      wireChunk(state, msg);
    } else if (state && msg.op === 'wire_end') {
      wireEnd(state, msg);
    } else if (state && msg.op === 'wire_fail') {
      wireFail(state, msg);
    }
  }
  channel.end(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((error) => {
  fatal('runner', `${error.name}: ${error.message}`);
  process.exit(1);
});
