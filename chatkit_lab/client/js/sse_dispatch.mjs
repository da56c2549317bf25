// Feeds recorded response bodies to @microsoft/fetch-event-source's own parser (the one ChatKit's
// host script inlines) and prints what it dispatches.
//
// stdin: one JSON object per line, {"name": string, "chunks": [base64 string, ...]}.
// stdout: one JSON object per input line, in order:
//   {"name", "messages": [{"data", "event", "id", "retry", "last_event_id"}, ...],
//    "last_event_id", "retry_interval"}
// or {"name", "error"} when the parser threw. "retry" is null when the message set none, and
// a string ("Infinity") when parseInt gave a number JSON cannot hold. "last_event_id" is the
// last-event-id header a reconnect would send at that point (null when the header is unset).
//
// The parser is driven the way fetchEventSource drives it: the body becomes a ReadableStream
// read by getBytes, each chunk goes to getLines, each line to getMessages. The CommonJS build is
// used because it loads on every Node version the package supports; its parse module is the
// same code as the ES module build.

import { createInterface } from 'node:readline';
import { getBytes, getLines, getMessages } from '@microsoft/fetch-event-source/lib/cjs/parse.js';

const DEFAULT_RETRY_INTERVAL = 1000; // fetchEventSource's starting retry interval, in ms

function jsonNumber(value) {
  if (value === undefined) return null;
  return Number.isFinite(value) ? value : String(value);
}

async function dispatch(chunks) {
  const headers = {};
  let retryInterval = DEFAULT_RETRY_INTERVAL;
  const messages = [];
  const onId = (id) => {
    if (id) headers['last-event-id'] = id;
    else delete headers['last-event-id'];
  };
  const onRetry = (retry) => {
    retryInterval = retry;
  };
  const onMessage = (message) => {
    messages.push({
      data: message.data,
      event: message.event,
      id: message.id,
      retry: jsonNumber(message.retry),
      last_event_id: headers['last-event-id'] ?? null,
    });
  };
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new Uint8Array(Buffer.from(chunk, 'base64')));
      controller.close();
    },
  });
  await getBytes(body, getLines(getMessages(onId, onRetry, onMessage)));
  return {
    messages,
    last_event_id: headers['last-event-id'] ?? null,
    retry_interval: jsonNumber(retryInterval),
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let name = null;
  try {
    const input = JSON.parse(line);
    name = input.name ?? null;
    const result = await dispatch(input.chunks ?? []);
    process.stdout.write(JSON.stringify({ name, ...result }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ name, error: String(error) }) + '\n');
  }
}
