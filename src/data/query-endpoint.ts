// A client for any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, hosted APIs): POST
// {url}/chat/completions. Retries on 429, 5xx, timeouts, network errors and malformed replies: after the wait the
// server asks for (Retry-After in seconds or as an HTTP date), else exponential backoff with jitter; a wait longer
// than maxWaitMs is cut to it, and every wait is told to onRetry (the caller shows it). Fails at once on other 4xx,
// which mean the URL, model or key is wrong. A reply larger than maxReplyBytes is refused without reading the rest.

export interface EndpointOptions {
  /** Base URL ('http://127.0.0.1:11434/v1') or the full '/chat/completions' URL. */
  url: string;
  model: string;
  key?: string;
  /** Per request (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first try (default 4). */
  retries?: number;
  /** First backoff (default 500 ms), doubled each retry, with jitter (×0.75–1.25); capped at maxWaitMs. */
  backoffMs?: number;
  /** The longest wait before a retry, Retry-After included (default 60 s). */
  maxWaitMs?: number;
  /** The largest reply accepted (default 1 MiB; a question is a few hundred bytes). */
  maxReplyBytes?: number;
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
    /** The error concerns this one reply (too large), not the endpoint's configuration: other requests go on. */
    readonly perRequest = false,
  ) {
    super(message);
    this.name = 'EndpointError';
  }

  /** A configuration error (bad URL, key, model): no other request can succeed either. */
  get fatal(): boolean {
    return !this.retryable && !this.perRequest;
  }
}

/** A retry's wait as chatComplete decided it; `askedMs` is what Retry-After asked for (when it did). */
export interface RetryWait {
  waitMs: number;
  askedMs?: number;
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** Reads a reply body up to `max` bytes; past it, cancels the stream and says so (a runaway reply never fills memory). */
async function readCapped(res: Response, max: number): Promise<string | undefined> {
  const len = Number(res.headers.get('content-length'));
  if (Number.isFinite(len) && len > max) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!res.body) {
    const t = await res.text();
    return new TextEncoder().encode(t).byteLength > max ? undefined : t;
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    parts.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) (all.set(p, at), (at += p.byteLength));
  return new TextDecoder().decode(all);
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
    const max = opts.maxReplyBytes ?? 1 << 20;
    const raw = await readCapped(res, max);
    if (raw === undefined) {
      return { error: new EndpointError(`the reply is larger than ${max} bytes (HTTP ${res.status}): not a short chat answer — set a max_tokens limit on the server, or check the URL`, res.status, false, true) };
    }
    if (!res.ok) {
      const retryable = res.status === 429 || res.status >= 500;
      const hint =
        res.status === 401 || res.status === 403 ? ' (check the API key)' : res.status === 404 ? ' (check the URL and the model name)' : '';
      return { retryAfterMs: parseRetryAfter(res.headers.get('retry-after')), error: new EndpointError(`HTTP ${res.status}${hint}: ${raw.slice(0, 200)}`, res.status, retryable) };
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

/** The wait before retry `attempt` (0-based): what the server asked for, else exponential backoff with jitter; capped. */
export function retryWait(opts: Pick<EndpointOptions, 'backoffMs' | 'maxWaitMs'>, attempt: number, askedMs?: number, random = Math.random): RetryWait {
  const cap = opts.maxWaitMs ?? 60_000;
  const backoff = (opts.backoffMs ?? 500) * 2 ** attempt * (0.75 + random() * 0.5);
  return { waitMs: Math.min(cap, askedMs ?? backoff), askedMs };
}

/** One chat completion with retries; returns the assistant text. `onRetry` hears each failed try and the wait. */
export async function chatComplete(
  opts: EndpointOptions,
  messages: ChatMessage[],
  signal?: AbortSignal,
  onRetry?: (error: EndpointError, attempt: number, wait: RetryWait) => void,
): Promise<string> {
  const retries = opts.retries ?? 4;
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortError();
    const r = await once(opts, messages, signal);
    if ('text' in r) return r.text;
    if (!r.error.retryable || attempt >= retries) throw r.error;
    const wait = retryWait(opts, attempt, 'retryAfterMs' in r ? r.retryAfterMs : undefined);
    onRetry?.(r.error, attempt + 1, wait);
    await sleep(wait.waitMs, signal);
  }
}
