// The Node ChatKit backend of `chatkit-node-backend-sdk`, served as its README shows, offline.
//
// The README's server: a ChatKitServer whose respond() makes an agent context, converts the user
// message with agents.simpleToAgentInput, runs an @openai/agents Agent streaming, and converts its
// events with agents.streamAgentResponse; an HTTP route that writes the SSE chunks of a streaming
// result and the JSON of the others. The README leaves the store to the user: an in-memory one
// here. Only the model is replaced: ScriptedModel, an @openai/agents Model that streams a scripted
// answer from memory. Tracing (which would export to OpenAI) is turned off; no request leaves the
// machine. It listens on 127.0.0.1 at the port the first argument names (0: any) and prints
// `listening <port>` when ready.
import http from 'node:http';
import { Agent, run, setTracingDisabled } from '@openai/agents';
import { ChatKitServer, NotFoundError, Store, agents } from 'chatkit-node-backend-sdk';

setTracingDisabled(true);

const WORDS = 40;

function lastUserText(request) {
  const input = Array.isArray(request.input) ? request.input : [{ content: request.input }];
  for (const item of [...input].reverse()) {
    if (item.role && item.role !== 'user') continue;
    const content = item.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      const text = content.map((part) => part.text || '').join(' ').trim();
      if (text) return text;
    }
  }
  return 'nothing';
}

function scripted(request) {
  const words = `You said: ${lastUserText(request)}. A long scripted answer:`.split(' ');
  for (let n = 1; n <= WORDS; n += 1) words.push(`word${n}`);
  return words.map((word) => `${word} `);
}

const usage = { requests: 1, inputTokens: 1, outputTokens: WORDS, totalTokens: WORDS + 1 };

function message(text, id) {
  return {
    type: 'message',
    id,
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text }],
  };
}

// The raw Responses API events a streamed reply of `words` is made of.
function responsesEvents(words, n) {
  const id = `msg_scripted_${n}`;
  const text = words.join('');
  const item = { type: 'message', id, role: 'assistant', status: 'in_progress', content: [] };
  const part = { type: 'output_text', text: '', annotations: [] };
  const done = message(text, id);
  const response = { id: `resp_${n}`, status: 'completed', output: [done] };
  const where = { item_id: id, output_index: 0, content_index: 0 };
  return [
    { type: 'response.created', response: { ...response, status: 'in_progress', output: [] } },
    { type: 'response.output_item.added', output_index: 0, item },
    { type: 'response.content_part.added', ...where, part },
    ...words.map((delta) => ({ type: 'response.output_text.delta', ...where, delta })),
    { type: 'response.output_text.done', ...where, text },
    { type: 'response.content_part.done', ...where, part: { ...part, text } },
    { type: 'response.output_item.done', output_index: 0, item: done },
    {
      type: 'response.completed',
      response: { ...response, usage: { input_tokens: 1, output_tokens: WORDS, total_tokens: WORDS + 1 } },
    },
  ];
}

// The replaced model: a scripted reply, streamed as @openai/agents' Responses model streams a
// real one (each raw event as {type: 'model'}, with the typed events it derives beside them).
class ScriptedModel {
  constructor() {
    this.count = 0;
  }

  async getResponse(request) {
    this.count += 1;
    const text = scripted(request).join('');
    return { usage, output: [message(text, `msg_scripted_${this.count}`)], responseId: `resp_${this.count}` };
  }

  async *getStreamedResponse(request) {
    this.count += 1;
    for (const event of responsesEvents(scripted(request), this.count)) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (event.type === 'response.created') {
        yield { type: 'response_started', providerData: { ...event } };
      } else if (event.type === 'response.completed') {
        const { output, id } = event.response;
        yield { type: 'response_done', response: { id, output, usage } };
      } else if (event.type === 'response.output_text.delta') {
        const { delta, ...rest } = event;
        yield { type: 'output_text_delta', delta, providerData: rest };
      }
      yield { type: 'model', event };
    }
  }
}

// An in-memory Store (the README asks the user for one).
class MemoryStore extends Store {
  constructor() {
    super();
    this.threads = new Map();
    this.items = new Map();
    this.attachments = new Map();
  }

  async loadThread(threadId) {
    const thread = this.threads.get(threadId);
    if (!thread) throw new NotFoundError(`Thread ${threadId} not found`);
    return { ...thread };
  }

  async saveThread(thread) {
    this.threads.set(thread.id, { ...thread });
    if (!this.items.has(thread.id)) this.items.set(thread.id, []);
  }

  async deleteThread(threadId) {
    this.threads.delete(threadId);
    this.items.delete(threadId);
  }

  static page(all, limit, after) {
    let start = 0;
    if (after) {
      const at = all.findIndex((entry) => entry.id === after);
      start = at < 0 ? all.length : at + 1;
    }
    const data = all.slice(start, start + limit);
    const hasMore = start + limit < all.length;
    return { data, has_more: hasMore, after: data.length ? data[data.length - 1].id : null };
  }

  async loadThreads(limit, after, order) {
    const all = [...this.threads.values()].sort((a, b) =>
      String(a.created_at).localeCompare(String(b.created_at)),
    );
    if (order === 'desc') all.reverse();
    return MemoryStore.page(all, limit, after);
  }

  async loadThreadItems(threadId, after, limit, order) {
    const all = [...(this.items.get(threadId) || [])];
    if (order === 'desc') all.reverse();
    return MemoryStore.page(all, limit, after);
  }

  async addThreadItem(threadId, item) {
    if (!this.items.has(threadId)) this.items.set(threadId, []);
    this.items.get(threadId).push({ ...item });
  }

  async saveItem(threadId, item) {
    const list = this.items.get(threadId) || [];
    const at = list.findIndex((entry) => entry.id === item.id);
    if (at < 0) list.push({ ...item });
    else list[at] = { ...item };
    this.items.set(threadId, list);
  }

  async loadItem(threadId, itemId) {
    const found = (this.items.get(threadId) || []).find((entry) => entry.id === itemId);
    if (!found) throw new NotFoundError(`Item ${itemId} not found`);
    return { ...found };
  }

  async deleteThreadItem(threadId, itemId) {
    const list = this.items.get(threadId) || [];
    this.items.set(
      threadId,
      list.filter((entry) => entry.id !== itemId),
    );
  }

  async saveAttachment(attachment) {
    this.attachments.set(attachment.id, attachment);
  }

  async loadAttachment(attachmentId) {
    const found = this.attachments.get(attachmentId);
    if (!found) throw new NotFoundError(`Attachment ${attachmentId} not found`);
    return found;
  }

  async deleteAttachment(attachmentId) {
    this.attachments.delete(attachmentId);
  }
}

// The README's server.
class ReadmeServer extends ChatKitServer {
  constructor(store) {
    super(store);
    this.agent = new Agent({
      model: new ScriptedModel(),
      name: 'Assistant',
      instructions: 'You are a helpful AI assistant.',
      tools: [],
    });
  }

  async *respond(thread, inputUserMessage, context) {
    if (!inputUserMessage) return;
    const agentContext = agents.createAgentContext(thread, this.store, context);
    const agentInput = await agents.simpleToAgentInput(inputUserMessage);
    const runnerStream = await run(this.agent, agentInput, { stream: true, context: agentContext });
    for await (const event of agents.streamAgentResponse(agentContext, runnerStream)) {
      yield event;
    }
    if (!thread.title) {
      const text = inputUserMessage.content
        .filter((c) => c.type === 'input_text')
        .map((c) => c.text)
        .join(' ');
      thread.title = text.slice(0, 50) + (text.length > 50 ? '...' : '');
    }
  }
}

const server = new ReadmeServer(new MemoryStore());
const MAX_BODY = 1 << 20;

const app = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/chatkit') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', async () => {
    // The README's route (express.json() then JSON.stringify(req.body)), without express.
    const context = { userId: req.headers['x-user-id'] || 'anonymous' };
    const result = await server.process(Buffer.concat(chunks).toString('utf-8'), context);
    if (result.isStreaming) {
      res.setHeader('Content-Type', 'text/event-stream');
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('Connection', 'keep-alive');
      for await (const chunk of result) {
        res.write(chunk);
      }
      res.end();
    } else {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(result.toJSON()));
    }
  });
});

app.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${app.address().port}\n`);
});
