// Downloads a model from the Hugging Face hub (or a mirror with the same URL layout) into the file map that
// loadHfFolder (hf-folder.ts) takes, for users who are online. Only the files a reranker needs are fetched:
// config.json, the tokenizer (tokenizer.json, else vocab.txt or sentencepiece.bpe.model; + tokenizer_config.json /
// special_tokens_map.json when present), config_sentence_transformers.json when present (the declared activation),
// and the weights: safetensors (one file, or the shards of model.safetensors.index.json), else pytorch_model.bin (or
// its shards), which the loader reads without executing anything. Nothing here runs unless the user gives a hub id;
// the folder drop keeps working offline.

import { HfFolderError, type FileMap } from './hf-folder.ts';
import { parseShardIndex } from './safetensors.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface FetchHubOptions extends LongRunning {
  /** Hub base URL (default https://huggingface.co); a mirror with the same /<id>/resolve/<revision>/<file> layout works. */
  endpoint?: string;
  /** Branch, tag, commit or PR ref such as refs/pr/1 (default 'main'). */
  revision?: string;
  /** Access token for private or gated models (sent as Authorization: Bearer). */
  token?: string;
  /** fetch to use (default globalThis.fetch); tests and proxies pass their own. */
  fetch?: typeof fetch;
  /** Retries after a network error, 429 or 5xx (default 3). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry (default 500); a Retry-After header wins when shorter than 30 s. */
  retryDelayMs?: number;
}

export type HubErrorKind = 'bad-id' | 'not-found' | 'auth' | 'gated' | 'network' | 'http';

/** A download that failed; `kind` lets the page decide what to suggest (e.g. the folder drop for 'network'). */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    message: string,
    readonly kind: HubErrorKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const OFFLINE_HINT = 'you may be offline, or the endpoint is unreachable; a downloaded model folder can be dropped instead, which works offline';

// The hub's own rule, roughly: letters, digits, '-', '_', '.'; no leading/trailing '-' or '.'; at most 96 chars.
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

/** Checks a hub id ("owner/name", as in the model page URL) and returns it trimmed. */
export function validateHubId(id: string): string {
  const s = id.trim();
  const parts = s.split('/');
  const ok = parts.length === 2 && parts.every((p) => PART.test(p)) && !s.includes('..');
  if (!ok) {
    throw new HubError(
      `"${id}" is not a hub model id: use owner/name as in the model page URL, e.g. BAAI/bge-reranker-base ` +
        '(older one-word ids now have an owner too, e.g. google-bert/bert-base-uncased)',
      'bad-id',
    );
  }
  return s;
}

/** Shard names come from a downloaded index: only plain file names are allowed (no paths, no '..'). */
function checkShardName(name: string, ext: 'safetensors' | 'bin'): void {
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]*\\.${ext}$`).test(name) || name.includes('..')) {
    throw new HubError(`the shard index names a shard "${name}" that is not a plain .${ext} file name; refusing to fetch it`, 'http');
  }
}

function abortError(signal?: AbortSignal): Error {
  return signal?.reason instanceof Error ? signal.reason : new DOMException('Cancelled', 'AbortError');
}

const isAbort = (e: unknown) => e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A response we gave up on (status kept so the caller can tell 404 from 401 …). */
class HttpStatus extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string | null,
    readonly serverMessage: string,
  ) {
    super(`HTTP ${status}`);
  }
}

interface Ctx {
  id: string;
  endpoint: string;
  revision: string;
  opts: FetchHubOptions;
  fetch: typeof fetch;
}

function fileUrl(c: Ctx, file: string): string {
  return `${c.endpoint}/${c.id}/resolve/${encodeURIComponent(c.revision)}/${encodeURIComponent(file)}`;
}

const retryable = (status: number) => status === 429 || status >= 500;

/**
 * One file: GET (or HEAD) with retries on network errors, 429 and 5xx. A GET's body is read in chunks with
 * progress; a failure mid-body is retried from the start. Resolves to the bytes, or to null for a 404 when
 * `optional`; other final statuses throw HttpStatus; a network failure after the last retry rethrows it.
 */
async function request(c: Ctx, file: string, method: 'GET' | 'HEAD', optional: boolean): Promise<Uint8Array | null> {
  const { signal, token } = c.opts;
  const retries = c.opts.retries ?? 3;
  const base = c.opts.retryDelayMs ?? 500;
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal);
    let wait = base * 2 ** attempt;
    try {
      const res = await c.fetch(fileUrl(c, file), { method, headers, signal, redirect: 'follow' });
      if (res.ok) {
        if (method === 'HEAD') return new Uint8Array(0);
        return await readBody(res, file, c.opts);
      }
      const errorCode = res.headers.get('x-error-code');
      const serverMessage = (res.headers.get('x-error-message') ?? '').slice(0, 300);
      await res.body?.cancel().catch(() => undefined);
      if (!retryable(res.status) || attempt >= retries) {
        if (res.status === 404 && optional) return null;
        throw new HttpStatus(res.status, errorCode, serverMessage);
      }
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0 && after <= 30) wait = after * 1000;
    } catch (e) {
      if (e instanceof HttpStatus) throw e;
      if (isAbort(e) || signal?.aborted) throw abortError(signal);
      if (attempt >= retries) throw e;
    }
    await sleep(wait, signal);
  }
}

/** Reads a response body in chunks, reporting {stage: 'download', done, total, detail: file}. */
async function readBody(res: Response, file: string, opts: LongRunning): Promise<Uint8Array> {
  const { signal, onProgress } = opts;
  const lengthHeader = Number(res.headers.get('content-length'));
  // A compressed body decodes to more bytes than content-length says, so the length is only a hint there.
  const known = Number.isFinite(lengthHeader) && lengthHeader > 0 && !res.headers.get('content-encoding') ? lengthHeader : 0;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ stage: 'download', done: b.length, total: b.length, detail: file });
    return b;
  }
  const reader = res.body.getReader();
  // A fetch that ignores the signal would leave read() hanging: cancelling the reader ends it.
  const onAbort = () => void reader.cancel(abortError(signal)).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  // Large weights: write into one buffer of the announced size instead of concatenating chunks (half the memory).
  let buf: Uint8Array | null = known ? new Uint8Array(known) : null;
  const chunks: Uint8Array[] = [];
  let done = 0;
  try {
    for (;;) {
      const r = await reader.read();
      throwIfAborted(signal);
      if (r.done) break;
      const chunk = r.value;
      if (buf && done + chunk.length <= buf.length) buf.set(chunk, done);
      else {
        if (buf) {
          chunks.push(buf.subarray(0, done));
          buf = null;
        }
        chunks.push(chunk);
      }
      done += chunk.length;
      onProgress?.({ stage: 'download', done, total: known ? Math.max(known, done) : 0, detail: file });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (buf) {
    if (done !== buf.length) throw new TypeError(`${file}: the connection closed after ${done} of ${buf.length} bytes`);
    return buf;
  }
  const out = new Uint8Array(done);
  let pos = 0;
  for (const ch of chunks) {
    out.set(ch, pos);
    pos += ch.length;
  }
  if (!done) onProgress?.({ stage: 'download', done: 0, total: 0, detail: file });
  return out;
}

/** Turns a failed request into an error that says what to do. */
function explain(c: Ctx, file: string, e: unknown): Error {
  if (isAbort(e)) return e as Error;
  const where = `${c.id} (revision ${c.revision}) at ${c.endpoint}`;
  const page = `${c.endpoint}/${c.id}`;
  if (e instanceof HttpStatus) {
    const extra = e.serverMessage ? ` (server says: ${e.serverMessage})` : '';
    if (e.status === 401 || e.status === 403) {
      if (e.errorCode === 'GatedRepo' || (e.status === 403 && c.opts.token)) {
        return new HubError(`${where} is gated: open ${page} while logged in and accept its licence/conditions, then pass a token of that account${extra}`, 'gated', e.status);
      }
      if (e.errorCode === 'RepoNotFound') {
        return new HubError(`no model ${where}: check the id (owner/name as in the model page URL); if it is private, pass an access token${extra}`, 'not-found', e.status);
      }
      return new HubError(
        c.opts.token
          ? `${where} refused the token (HTTP ${e.status}): check that it is valid and has read access; for a gated model accept its licence at ${page}${extra}`
          : `${where} needs authorisation (HTTP ${e.status}): the model is private or gated (or the id is wrong). Pass an access token (huggingface.co/settings/tokens), and for a gated model accept its licence at ${page}${extra}`,
        'auth',
        e.status,
      );
    }
    if (e.status === 404) {
      if (e.errorCode === 'RevisionNotFound') return new HubError(`${where}: no revision "${c.revision}" (use a branch, tag or commit of the model, e.g. main)${extra}`, 'not-found', 404);
      if (e.errorCode === 'EntryNotFound') return new HubError(`${where} has no ${file}: it does not look like a transformers model folder${extra}`, 'not-found', 404);
      return new HubError(`no model ${where} (${file} not found): check the id (owner/name as in the model page URL) and the revision${extra}`, 'not-found', 404);
    }
    if (e.status === 429) return new HubError(`${where}: too many requests (HTTP 429) even after retries; wait a few minutes and try again${extra}`, 'http', 429);
    return new HubError(`${where}: downloading ${file} failed with HTTP ${e.status}${e.status >= 500 ? ' after retries; the hub may be down, try again later' : ''}${extra}`, 'http', e.status);
  }
  const msg = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
  return new HubError(`cannot download ${file} of ${where} (${msg}): ${OFFLINE_HINT}`, 'network');
}

async function get(c: Ctx, file: string, optional: true): Promise<Uint8Array | null>;
async function get(c: Ctx, file: string, optional: false): Promise<Uint8Array>;
async function get(c: Ctx, file: string, optional: boolean): Promise<Uint8Array | null> {
  try {
    return await request(c, file, 'GET', optional);
  } catch (e) {
    throw explain(c, file, e);
  }
}

/**
 * Downloads a model by hub id into a file map for loadHfFolder (see the top of this file for which files).
 * Progress: {stage: 'download', done: bytes of the current file, total: its content-length (0 when the server
 * does not say), detail: file name}. Errors are HubError (bad id, 404, 401/403, network) or HfFolderError (the
 * repo has no tokenizer files), each saying what to do; abort rejects with the signal's reason (an AbortError by
 * default).
 */
export async function fetchHubModel(id: string, opts: FetchHubOptions = {}): Promise<FileMap> {
  const c: Ctx = {
    id: validateHubId(id),
    endpoint: (opts.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    revision: (opts.revision ?? 'main').trim() || 'main',
    opts,
    fetch: opts.fetch ?? globalThis.fetch.bind(globalThis),
  };
  if (c.revision.includes('..')) throw new HubError(`revision "${c.revision}" is not valid: use a branch, tag, commit or refs/pr/N`, 'bad-id');
  if (!/^https?:\/\//.test(c.endpoint)) throw new HubError(`endpoint "${c.endpoint}" is not an http(s) URL`, 'bad-id');
  throwIfAborted(opts.signal);
  const files: FileMap = new Map();

  files.set('config.json', await get(c, 'config.json', false));
  // The tokenizer: tokenizer.json, else the slow-tokenizer file the loader builds one from.
  let tokenizerFound = false;
  for (const name of ['tokenizer.json', 'vocab.txt', 'sentencepiece.bpe.model']) {
    const b = await get(c, name, true);
    if (!b) continue;
    files.set(name, b);
    tokenizerFound = true;
    break;
  }
  if (!tokenizerFound) {
    throw new HfFolderError(
      `${c.id} has no tokenizer.json, vocab.txt or sentencepiece.bpe.model; create tokenizer.json once with Python: ` +
        `python -c "from transformers import AutoTokenizer as T; T.from_pretrained('${c.id}').save_pretrained('DIR')" ` +
        'and drop DIR together with config.json and the weights',
    );
  }
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'config_sentence_transformers.json']) {
    const b = await get(c, name, true);
    if (b) files.set(name, b);
  }

  const single = await get(c, 'model.safetensors', true);
  if (single) {
    files.set('model.safetensors', single);
    return files;
  }
  const shardedFrom = async (indexName: string, ext: 'safetensors' | 'bin'): Promise<boolean> => {
    const index = await get(c, indexName, true);
    if (!index) return false;
    files.set(indexName, index);
    let shards: string[];
    try {
      shards = [...new Set(parseShardIndex(new TextDecoder().decode(index)).values())];
    } catch (e) {
      throw new HubError(`${c.id}: ${(e as Error).message.replace('model.safetensors.index.json', indexName)}`, 'http');
    }
    shards.forEach((s) => checkShardName(s, ext));
    for (const shard of shards) files.set(shard, await get(c, shard, false));
    return true;
  };
  if (await shardedFrom('model.safetensors.index.json', 'safetensors')) return files;
  // PyTorch pickles: read by the loader's strict reader, which executes nothing.
  const bin = await get(c, 'pytorch_model.bin', true);
  if (bin) {
    files.set('pytorch_model.bin', bin);
    return files;
  }
  if (await shardedFrom('pytorch_model.bin.index.json', 'bin')) return files;
  throw new HubError(
    `${c.id} (revision ${c.revision}) has no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json: ` +
      'it holds no PyTorch/safetensors weights we can train (TensorFlow/ONNX-only repos are not supported)',
    'not-found',
    404,
  );
}
