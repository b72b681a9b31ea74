// A client for any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, hosted APIs): POST
// {url}/chat/completions. Retries with exponential backoff on 429, 5xx, timeouts, network errors and malformed
// replies (honouring Retry-After); fails at once on other 4xx, which mean the URL, model or key is wrong.

export interface EndpointOptions {
  /** Base URL ('http://127.0.0.1:11434/v1') or the full '/chat/completions' URL. */
  url: string;
  model: string;
  key?: string;
  /** Per request (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first try (default 4). */
  retries?: number;
  /** First backoff (default 500 ms), doubled each retry, with jitter; capped at 30 s. */
  backoffMs?: number;
  temperature?: number;
  maxTokens?: number;
  /** For tests or custom transports. */
  fetch?: typeof fetch;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export class EndpointError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

export function chatUrl(url: string): string {
  const u = url.trim().replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(u)) throw new EndpointError(`Endpoint URL must start with http:// or https:// (got '${url}').`, undefined, false);
  return /\/chat\/completions$/.test(u) ? u : `${u}/chat/completions`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const abortError = () => new DOMException('Cancelled', 'AbortError');

async function once(opts: EndpointOptions, messages: ChatMessage[], signal?: AbortSignal): Promise<{ text: string } | { retryAfterMs?: number; error: EndpointError }> {
  const ctl = new AbortController();
  let timedOut = false;
  const timeout = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, opts.timeoutMs ?? 60_000);
  const onAbort = () => ctl.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const body: Record<string, unknown> = { model: opts.model, messages, stream: false };
    if (opts.temperature !== undefined) body.temperature = opts.temperature;
    if (opts.maxTokens !== undefined) body.max_tokens = opts.maxTokens;
    const res = await (opts.fetch ?? fetch)(chatUrl(opts.url), { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal });
    const raw = await res.text();
    if (!res.ok) {
      const retryable = res.status === 429 || res.status >= 500;
      const ra = Number(res.headers.get('retry-after'));
      const hint =
        res.status === 401 || res.status === 403 ? ' (check the API key)' : res.status === 404 ? ' (check the URL and the model name)' : '';
      return { retryAfterMs: Number.isFinite(ra) && ra >= 0 ? ra * 1000 : undefined, error: new EndpointError(`HTTP ${res.status}${hint}: ${raw.slice(0, 200)}`, res.status, retryable) };
    }
    let data: { choices?: { message?: { content?: unknown } }[] };
    try {
      data = JSON.parse(raw);
    } catch {
      return { error: new EndpointError(`malformed JSON reply: ${raw.slice(0, 120)}`, res.status, true) };
    }
    const content = data.choices?.[0]?.message?.content;
    if (typeof content !== 'string') return { error: new EndpointError('reply has no choices[0].message.content (is this an OpenAI-compatible chat endpoint?)', res.status, true) };
    return { text: content };
  } catch (e) {
    if (signal?.aborted) throw abortError();
    if (timedOut) return { error: new EndpointError(`no reply within ${opts.timeoutMs ?? 60_000} ms`, undefined, true) };
    return { error: new EndpointError(`cannot reach ${opts.url}: ${(e as Error).message}`, undefined, true) };
  } finally {
    clearTimeout(timeout);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** One chat completion with retries; returns the assistant text. `onRetry` hears each failed try. */
export async function chatComplete(
  opts: EndpointOptions,
  messages: ChatMessage[],
  signal?: AbortSignal,
  onRetry?: (error: EndpointError, attempt: number) => void,
): Promise<string> {
  const retries = opts.retries ?? 4;
  const base = opts.backoffMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortError();
    const r = await once(opts, messages, signal);
    if ('text' in r) return r.text;
    if (!r.error.retryable || attempt >= retries) throw r.error;
    onRetry?.(r.error, attempt + 1);
    const wait = r.retryAfterMs ?? Math.min(30_000, base * 2 ** attempt * (0.75 + Math.random() * 0.5));
    await sleep(wait, signal);
  }
}
