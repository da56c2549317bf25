// A worked example for chatkit-lab's `--fetch`: the custom `fetch` the report's
// ChatProvider.tsx gives ChatKit (`useChatKit({ api: { url, fetch } })`), written as a module
// the kit runs under Node. It does what that fetch does, step by step:
//
//   1. no token: throw (ChatKit's request fails with that error);
//   2. a `threads.list` body: answer locally with an empty page, nothing on the wire;
//   3. any other body: replace it with the backend's `{ message, conversation_id }`, add
//      `Authorization: Bearer <jwt>`, and send it to the same URL ChatKit asked for (the
//      component set ChatKit's `api.url` to `${API_BASE_URL}/${userId}/chat`);
//   4. an event stream back: tee it, hand one branch to ChatKit, and read the other for
//      `thread.created`, calling `setThreadId(thread.id)` when it comes.
//
// The component kept the token and `setThreadId` in its closure; a factory receives them in
// `ctx` instead (see docs/guides/your-fetch.md).
//
// The same fetch as chatprovider_fetch.mjs, in TypeScript (the report's component is a .tsx
// file): chatkit-lab transpiles it with a pure-JavaScript transpiler before Node runs it. The
// types below are the module contract of docs/guides/your-fetch.md.

/** The ChatKit commands a page can call (`control` in React); the kit records every call. */
interface ChatKitControl {
  setThreadId(threadId: string | null): Promise<void>;
  sendUserMessage(message: { text: string; newThread?: boolean }): Promise<void>;
  setComposerValue(value: { text: string }): Promise<void>;
  fetchUpdates(): Promise<void>;
  sendCustomAction(action: { type: string; payload?: unknown }): Promise<void>;
  focusComposer(): Promise<void>;
  showHistory(): Promise<void>;
  hideHistory(): Promise<void>;
}

/** What the React closure gave the fetch, handed to a factory by the kit. */
interface FetchContext {
  token: string;
  userId: string;
  control: ChatKitControl;
}

type FetchFn = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** The part of a ChatKit request body this fetch reads. */
interface Envelope {
  type?: string;
  params?: { thread_id?: string; input?: { content?: unknown } };
  messages?: { content?: string }[];
  message?: string;
  input?: string;
}

export default function chatProviderFetch(ctx: FetchContext): FetchFn {
  const { token, control } = ctx;

  return async function fetchForChatKit(
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> {
    if (!token) {
      throw new Error('Authentication token not available');
    }

    let body: unknown = {};
    if (init?.body) {
      try {
        const envelope: Envelope = JSON.parse(init.body as string);
        console.log('ChatKit request:', envelope.type);
        if (envelope.type === 'threads.list') {
          return new Response(JSON.stringify({ data: [], has_more: false }), {
            status: 200,
            headers: { 'Content-Type': 'application/json' },
          });
        }
        body = { message: messageOf(envelope), conversation_id: conversationIdOf(envelope) };
      } catch (error) {
        console.error('the ChatKit body is not JSON; sending it as it is:', error);
        body = init.body;
      }
    }

    const response = await fetch(input, {
      ...init,
      body: JSON.stringify(body),
      headers: {
        ...init?.headers,
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
      },
    });

    const contentType = response.headers.get('content-type');
    if (!contentType?.includes('text/event-stream') || !response.body) {
      return response;
    }
    const [forChatKit, forThreadSync] = response.body.tee();
    watchForThreadCreated(forThreadSync, control); // not awaited: it runs beside ChatKit
    return new Response(forChatKit, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

// The first `input_text` part of a ChatKit input; else the other shapes the component tried.
function messageOf(envelope: Envelope): string {
  const content = envelope.params?.input?.content;
  if (Array.isArray(content)) {
    return content.find((part: { type?: string; text?: string }) => part.type === 'input_text')?.text || '';
  }
  if (Array.isArray(envelope.messages)) {
    return envelope.messages[envelope.messages.length - 1]?.content || '';
  }
  return envelope.message || envelope.input || '';
}

// `parseInt` of a truthy `params.thread_id`, else `undefined` (so the key is left out of the
// JSON). `parseInt` reads a leading number ("12abc" is 12) and gives NaN, sent as null, for
// anything else.
function conversationIdOf(envelope: Envelope): number | undefined {
  const threadId = envelope.params?.thread_id;
  return threadId ? parseInt(threadId, 10) : undefined;
}

// Reads `data: ` lines as they come, splitting on "\n" only, and calls setThreadId on the
// first and every `thread.created` it sees. Lines that are not JSON are skipped.
async function watchForThreadCreated(
  stream: ReadableStream<Uint8Array>,
  control: ChatKitControl,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() || '';
      for (const line of lines) {
        if (!line.startsWith('data: ')) continue;
        let event: { type?: string; thread?: { id?: string } };
        try {
          event = JSON.parse(line.slice('data: '.length));
        } catch {
          continue;
        }
        if (event.type === 'thread.created' && event.thread?.id) {
          void control.setThreadId(event.thread.id);
        }
      }
    }
  } catch (error) {
    console.error('reading the teed stream failed:', error);
  } finally {
    reader.releaseLock();
  }
}
