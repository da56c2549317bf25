// chatkit-lab: a fetch taken out of a React component, run as written.
//
// 1. Copy this file next to your component (or anywhere) and keep its name ending in .ts.
// 2. Paste the `fetch: ...` entry of your `useChatKit({ api: { ... } })` call between the two
//    PASTE lines below, exactly as it is written there (the trailing comma may stay).
// 3. Run: chatkit-lab diagnose <your ChatKit URL or a built-in backend> --fetch your_fetch.ts
//
// Your component's fetch used names from the component around it (a token ref, setThreadId,
// state setters). The usual ones are defined in the block below, backed by what the kit gives:
// the token from the environment variable (CHATKIT_TOKEN unless told otherwise), the user id,
// and ChatKit's control (every call is recorded). If your fetch uses a name that is not here,
// the run stops with "ReferenceError: <name> is not defined (your_fetch.ts line N)": add one
// line for it to the block, e.g. `const draftRef = useRef('');` or
// `const [, setDraft] = useState('');`. The full list is in docs/guides/your-fetch.md.

/* eslint-disable @typescript-eslint/no-unused-vars, @typescript-eslint/no-explicit-any */

type Ctx = { token: string; userId: string; control: any };
type Ref<T> = { current: T };
type Setter<T> = (value: T | ((previous: T) => T)) => void;

export const kind = 'factory';

export default function yourFetch(ctx: Ctx): any {
  // A ref as `useRef` returns it, and a state pair as `useState` returns it: the setter takes a
  // value or an updater, and the latest value is kept (nothing is drawn: there is no page).
  const useRef = <T>(initial: T): Ref<T> => ({ current: initial });
  function useState<T>(initial: T): [T, Setter<T>] {
    const box = { value: initial };
    const set: Setter<T> = (value) => {
      box.value = typeof value === 'function' ? (value as (previous: T) => T)(box.value) : value;
    };
    return [box.value, set];
  }

  // ---- the component's names ------------------------------------------------------------------
  const { token, userId, control } = ctx;
  const accessToken = token;
  const authToken = token;
  const jwt = token;
  const tokenRef = useRef(token);
  const accessTokenRef = useRef(token);
  const authTokenRef = useRef(token);
  const jwtRef = useRef(token);
  const userIdRef = useRef(userId);
  const threadIdRef = useRef<string | null>(null);
  const conversationIdRef = useRef<number | null>(null);
  const pendingUserMessageRef = useRef('');
  const messagesRef = useRef<any[]>([]);
  const abortControllerRef = useRef<AbortController | null>(null);
  const { setThreadId, sendUserMessage, setComposerValue, fetchUpdates, sendCustomAction,
    focusComposer } = control;
  const chatkit = { control, setThreadId, sendUserMessage, setComposerValue, fetchUpdates,
    sendCustomAction, focusComposer };
  const [messages, setMessages] = useState<any[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [isLoading, setIsLoading] = useState(false);
  const [loading, setLoading] = useState(false);
  const [isReady, setIsReady] = useState(true);
  const [isStreaming, setIsStreaming] = useState(false);
  const [threadId, setThreadIdState] = useState<string | null>(null);
  const [conversationId, setConversationId] = useState<number | null>(null);
  // add the other names your fetch uses here

  const api = {
    // ---- PASTE your `fetch: ...` entry below this line ----------------------------------------

    // ---- PASTE your `fetch: ...` entry above this line ----------------------------------------
  } as { fetch?: unknown };

  if (typeof api.fetch !== 'function') {
    throw new Error('paste your fetch between the PASTE lines: the `fetch: async (input, init) '
      + '=> { ... },` entry of your useChatKit({ api: { ... } }) call');
  }
  return api.fetch;
}
