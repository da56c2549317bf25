// chatkit-lab: what the fetch runner (fetch_runner.mjs) shares: the protocol channel, the
// request each piece of the user's code runs for, errors described without this machine's
// paths, and the user's console and ChatKit's control, both recorded.

import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, inspect } from 'node:util';

const CONSOLE_CALL_MAX = 8 * 1024;
const CONSOLE_REQUEST_MAX = 64 * 1024;
const ARGS_MAX = 4 * 1024;
const CONTROL_REQUEST_MAX = 200; // control calls recorded per request
const CONTROL_OUTSIDE_MAX = 200; // control calls recorded outside any request
let controlOutside = 0;
const CONTROL_METHODS = [
  'setThreadId', 'sendUserMessage', 'setComposerValue', 'fetchUpdates', 'sendCustomAction',
  'focusComposer', 'showHistory', 'hideHistory',
];

// -- protocol ---------------------------------------------------------------------------------

// The kit's own channel: a socket handed over as a file descriptor (its number is the first
// argument), never fd 1 or 2, so nothing the user's module writes (a logger writing to fd 1)
// can be taken for, or swallow, a protocol record.
export const channel = new net.Socket({
  fd: Number(process.argv[2]), readable: true, writable: true,
});
export const send = (record) => channel.write(`${JSON.stringify(record)}\n`);
export const b64 = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  .toString('base64');
export const unb64 = (text) => new Uint8Array(Buffer.from(text ?? '', 'base64'));

/** The state of the ChatKit request the running code belongs to (undefined outside one). */
export const als = new AsyncLocalStorage();

let hide = (text) => String(text);
export const hidePaths = (text) => hide(text);

/** Shorten the fetch file's folder, this kit's folder and any other absolute path. */
export function hidePathsOf(file) {
  const dir = path.dirname(file);
  const own = path.dirname(fileURLToPath(import.meta.url));
  const swaps = [
    [pathToFileURL(dir).href + '/', ''], [dir + path.sep, ''],
    [pathToFileURL(own).href + '/', 'chatkit-lab/'], [own + path.sep, 'chatkit-lab/'],
  ];
  hide = (text) => {
    let out = String(text);
    for (const [from, to] of swaps) out = out.split(from).join(to);
    out = out.replace(/file:\/\/\/[^\s)'"]*\/([^\s/)'"]+)/g, '.../$1');
    // Any other absolute path whose folder exists here (a URL path like /user-1/chat stays).
    return out.replace(/(?<![\w.:/~-])(\/(?:[^\s/:)'"]+\/)+)([^\s/:)'"]+)/g,
      (whole, dir, base) => (existsSync(dir) ? `.../${base}` : whole));
  };
}

export function describe(error, depth = 0) {
  if (!(error instanceof Error)) {
    return { name: typeof error, message: hidePaths(safeText(error)), stack: '' };
  }
  const stack = hidePaths(error.stack ?? '').split('\n').slice(0, 25).join('\n');
  const out = { name: error.name, message: hidePaths(error.message), stack };
  if (error.cause !== undefined && depth < 2) out.cause = describe(error.cause, depth + 1);
  return out;
}

export function safeText(value) {
  try {
    return typeof value === 'string' ? value : inspect(value, { depth: 3 });
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function safeArgs(args) {
  let text;
  try {
    text = JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? String(v)
      : typeof v === 'function' ? `[function ${v.name || 'anonymous'}]` : v));
  } catch {
    text = undefined;
  }
  if (text === undefined || text.length > ARGS_MAX) return [safeText(args).slice(0, ARGS_MAX)];
  return JSON.parse(text);
}

// -- the user's console -----------------------------------------------------------------------

export function emitConsole(level, text) {
  const state = als.getStore();
  if (state) {
    if (state.consoleBytes >= CONSOLE_REQUEST_MAX) return;
    state.consoleBytes += text.length;
    state.lastActivity = Date.now();
  }
  const clipped = text.length > CONSOLE_CALL_MAX ? `${text.slice(0, CONSOLE_CALL_MAX)}...` : text;
  send({ op: 'console', id: state?.id ?? null, level, text: hidePaths(clipped) });
}

export function captureConsole() {
  for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
    console[level] = (...args) => emitConsole(level, format(...args));
  }
  console.trace = (...args) => emitConsole('trace', `Trace: ${format(...args)}`);
  console.dir = (value, options) => emitConsole('log', inspect(value, options));
  // Raw writes to fd 1 or 2 (process.stdout.write, a logger) reach the kit as the process's
  // own output: the protocol has its own channel.
}

// -- ChatKit's control, recorded --------------------------------------------------------------

function record(name, args) {
  const state = als.getStore();
  if (state) {
    state.lastActivity = Date.now();
    state.controls = (state.controls ?? 0) + 1;
    if (state.controls > CONTROL_REQUEST_MAX) {
      state.controlsDropped = (state.controlsDropped ?? 0) + 1;
      return;
    }
  } else if (++controlOutside > CONTROL_OUTSIDE_MAX) {
    return;
  }
  send({
    op: 'control', id: state?.id ?? null, name, args: safeArgs(args),
    after_reply_chunks: state ? state.replyChunks : null,
    phase: !state ? 'outside' : state.finished ? 'after' : 'during',
  });
}

export function makeControl() {
  const known = Object.fromEntries(CONTROL_METHODS.map((name) => [name, async (...args) => {
    record(name, args);
  }]));
  return new Proxy(known, {
    get(target, prop) {
      if (prop in target || typeof prop === 'symbol' || ['then', 'toJSON'].includes(prop)) {
        return target[prop];
      }
      return async (...args) => record(String(prop), args);
    },
  });
}
