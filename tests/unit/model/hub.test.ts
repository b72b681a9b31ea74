// fetchHubModel against a local node:http server that mimics the hub's /<id>/resolve/<revision>/<file> layout,
// serving the bert-tiny fixture folder (and variants: sharded, private, gated, flaky, slow, pickle-only).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HfFolderError, loadHfFolder, readFolderNode, type FileMap } from '../../../src/model/hf-folder.ts';
import { fetchHubModel, HubError, validateHubId } from '../../../src/model/hub.ts';
import { readSafetensors, writeSafetensors } from '../../../src/model/safetensors.ts';
import type { Progress } from '../../../src/util/progress.ts';
import { fixtureDir } from './fixture.ts';
import { fileURLToPath } from 'node:url';

const hfFolder = (name: string) => fileURLToPath(new URL(`../../fixtures/hf-folders/${name}/`, import.meta.url));

const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
const TOKEN = 'hf_test_token';

let folder: FileMap; // the fixture folder as loadHfFolder sees it
let repos: Map<string, Map<string, Uint8Array>>; // repo id → files served
let server: Server;
let endpoint: string;
const hits: string[] = []; // "METHOD /path" of every request
let flakyConfigFailures = 0;
let slowRelease: (() => void) | undefined;

/** Splits the fixture's tensors into two shards plus an index, as transformers writes large checkpoints. */
function shardedRepo(base: Map<string, Uint8Array>): Map<string, Uint8Array> {
  const all = readSafetensors(base.get('model.safetensors')!).tensors;
  const names = [...all.keys()].sort();
  const half = Math.ceil(names.length / 2);
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const out = new Map(base);
  out.delete('model.safetensors');
  const weightMap: Record<string, string> = {};
  [names.slice(0, half), names.slice(half)].forEach((part, i) => {
    out.set(shardNames[i], writeSafetensors(part.map((n) => [n, { shape: all.get(n)!.shape, data: all.get(n)!.data as Float32Array }])));
    for (const n of part) weightMap[n] = shardNames[i];
  });
  out.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })));
  return out;
}

function send(res: ServerResponse, status: number, body: Uint8Array | string = '', headers: Record<string, string> = {}): void {
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  res.writeHead(status, { 'content-length': String(b.length), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : b);
}

/** Sends a body in 8 KiB pieces, one per event-loop turn, so the client sees many chunks. */
async function sendChunked(res: ServerResponse, body: Uint8Array, stallAfter?: number): Promise<void> {
  res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
  for (let pos = 0; pos < body.length; pos += 8192) {
    if (stallAfter !== undefined && pos >= stallAfter) {
      await new Promise<void>((r) => (slowRelease = r)); // hold the connection until the test ends
      res.destroy();
      return;
    }
    const piece = body.subarray(pos, pos + 8192);
    if (!res.write(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength))) await new Promise((r) => res.once('drain', r));
    await new Promise((r) => setTimeout(r, 1));
  }
  res.end();
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  hits.push(`${req.method} ${req.url}`);
  const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
  if (!m) return send(res, 404, 'Not found');
  const [, id, revision, file] = m.map(decodeURIComponent);
  if (id === 'test/private' && req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, 'Unauthorized');
  if (id === 'test/gated') return send(res, 403, 'Forbidden', { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access to model test/gated is restricted.' });
  if (id === 'test/down') return send(res, 503, 'Service Unavailable');
  if (id === 'test/flaky' && file === 'config.json' && flakyConfigFailures++ === 0) return send(res, 500, 'Internal error');
  const files = repos.get(id);
  if (!files || revision !== 'main') return send(res, 404, 'Repository not found');
  const body = files.get(file);
  if (!body) return send(res, 404, 'Entry not found');
  if (file.endsWith('.safetensors') && req.method === 'GET') return sendChunked(res, body, id === 'test/slow' ? 16384 : undefined);
  send(res, 200, body);
}

beforeAll(async () => {
  folder = await readFolderNode(fixtureDir('bert-tiny'));
  const plain = new Map(MODEL_FILES.map((f) => [f, folder.get(f)!]));
  const pickleOnly = await readFolderNode(hfFolder('bert-bin'));
  const vocabOnly = await readFolderNode(hfFolder('bert-vocab'));
  const noTokenizer = new Map(plain);
  noTokenizer.delete('tokenizer.json');
  repos = new Map([
    ['test/bert-tiny', plain],
    ['test/sharded', shardedRepo(plain)],
    ['test/private', plain],
    ['test/flaky', plain],
    ['test/slow', plain],
    ['test/pickle-only', pickleOnly],
    ['test/vocab-only', vocabOnly],
    ['test/no-tokenizer', noTokenizer],
  ]);
  server = createServer((req, res) => void handle(req, res).catch((e) => res.destroy(e)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  slowRelease?.();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const fast = { retryDelayMs: 5 };

async function expectSameModel(files: FileMap): Promise<void> {
  const want = await loadHfFolder(folder);
  const got = await loadHfFolder(files);
  expect(got.config).toEqual(want.config);
  expect([...got.params.keys()]).toEqual([...want.params.keys()]);
  for (const [k, v] of want.params) expect(got.params.get(k)).toEqual(v);
  const enc = (m: typeof got) => m.tokenizer.encodePairs(['企业研发费用'], ['企业开展研发活动'], { maxLength: 32 });
  expect(enc(got)).toEqual(enc(want));
}

describe('fetchHubModel', () => {
  it('downloads a single-file model that loadHfFolder loads with the same parameters as the folder', async () => {
    hits.length = 0;
    const files = await fetchHubModel('test/bert-tiny', { endpoint: `${endpoint}/`, ...fast });
    expect([...files.keys()].sort()).toEqual([...MODEL_FILES].sort());
    for (const f of MODEL_FILES) expect(files.get(f)).toEqual(folder.get(f));
    await expectSameModel(files);
    // special_tokens_map.json is optional: its 404 is tolerated; no weights lookup beyond model.safetensors.
    expect(hits).toContain('GET /test/bert-tiny/resolve/main/special_tokens_map.json');
    expect(hits.some((h) => h.includes('index.json') || h.includes('pytorch_model'))).toBe(false);
  });

  it('downloads a sharded model (index + two shards) that loads to the same parameters', async () => {
    const files = await fetchHubModel('test/sharded', { endpoint, ...fast });
    expect(files.has('model.safetensors')).toBe(false);
    expect([...files.keys()].filter((k) => k.endsWith('.safetensors')).sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    await expectSameModel(files);
  });

  it('says the id is wrong for a repo that does not exist', async () => {
    const err = await fetchHubModel('test/no-such-model', { endpoint, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(/no model test\/no-such-model.*check the id/);
  });

  it('asks for a token on 401, and sends it as a Bearer header', async () => {
    const err = await fetchHubModel('test/private', { endpoint, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/private or gated.*Pass an access token.*accept its licence/);
    const files = await fetchHubModel('test/private', { endpoint, token: TOKEN, ...fast });
    await expectSameModel(files);
    const wrong = await fetchHubModel('test/private', { endpoint, token: 'hf_wrong', ...fast }).catch((e) => e);
    expect(wrong.message).toMatch(/refused the token/);
  });

  it('says to accept the licence of a gated model', async () => {
    const err = await fetchHubModel('test/gated', { endpoint, ...fast }).catch((e) => e);
    expect(err.kind).toBe('gated');
    expect(err.message).toMatch(/gated.*accept its licence/);
    expect(err.message).toContain('Access to model test/gated is restricted.');
  });

  it('retries a 500 and then succeeds', async () => {
    hits.length = 0;
    flakyConfigFailures = 0;
    const files = await fetchHubModel('test/flaky', { endpoint, ...fast });
    expect(hits.filter((h) => h === 'GET /test/flaky/resolve/main/config.json')).toHaveLength(2);
    await expectSameModel(files);
  });

  it('gives up on a server that keeps failing after 3 retries', async () => {
    hits.length = 0;
    const err = await fetchHubModel('test/down', { endpoint, ...fast }).catch((e) => e);
    expect(hits).toHaveLength(4);
    expect(err.kind).toBe('http');
    expect(err.message).toMatch(/HTTP 503 after retries/);
  });

  it('explains an unreachable endpoint (offline) and points to the folder drop', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await fetchHubModel('test/bert-tiny', { endpoint: `http://127.0.0.1:${port}`, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/offline.*model folder can be dropped/);
  });

  it('reports download progress with growing byte counts up to the file size', async () => {
    const events: Progress[] = [];
    await fetchHubModel('test/bert-tiny', { endpoint, ...fast, onProgress: (p) => events.push({ ...p }) });
    expect(events.every((e) => e.stage === 'download')).toBe(true);
    const weights = events.filter((e) => e.detail === 'model.safetensors');
    const size = folder.get('model.safetensors')!.length;
    expect(weights.length).toBeGreaterThan(3);
    for (let i = 1; i < weights.length; i++) expect(weights[i].done).toBeGreaterThan(weights[i - 1].done);
    expect(weights.every((e) => e.total === size)).toBe(true);
    expect(weights.at(-1)!.done).toBe(size);
    expect(events.some((e) => e.detail === 'config.json')).toBe(true);
  });

  it('stops when aborted mid-download, and does not start when already aborted', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const err = await fetchHubModel('test/slow', {
      endpoint,
      ...fast,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.detail === 'model.safetensors') ac.abort();
      },
    }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(5000);

    hits.length = 0;
    const pre = AbortSignal.abort();
    await expect(fetchHubModel('test/bert-tiny', { endpoint, signal: pre })).rejects.toMatchObject({ name: 'AbortError' });
    expect(hits).toHaveLength(0);
  });

  it('downloads a pytorch_model.bin-only repo that loads like the folder', async () => {
    hits.length = 0;
    const files = await fetchHubModel('test/pickle-only', { endpoint, ...fast });
    expect(files.has('pytorch_model.bin')).toBe(true);
    const got = await loadHfFolder(files);
    const want = await loadHfFolder(await readFolderNode(hfFolder('bert-bin')));
    for (const [k, v] of want.params) expect(got.params.get(k)).toEqual(v);
  });

  it('downloads a vocab.txt-only repo (no tokenizer.json) that loads like the folder', async () => {
    const files = await fetchHubModel('test/vocab-only', { endpoint, ...fast });
    expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt']);
    const enc = (m: Awaited<ReturnType<typeof loadHfFolder>>) => m.tokenizer.encodePairs(['企业研发费用 R&D'], ['企业开展研发活动'], { maxLength: 32 });
    expect(enc(await loadHfFolder(files))).toEqual(enc(await loadHfFolder(await readFolderNode(hfFolder('bert-vocab')))));
  });

  it('says how to make tokenizer.json when the repo has no tokenizer files', async () => {
    const err = await fetchHubModel('test/no-tokenizer', { endpoint, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(HfFolderError);
    expect(err.message).toMatch(/no tokenizer\.json, vocab\.txt or sentencepiece\.bpe\.model.*AutoTokenizer.*save_pretrained/);
  });

  it('refuses ids that are not owner/name before any request', async () => {
    let calls = 0;
    const counting = (() => {
      calls++;
      throw new Error('should not fetch');
    }) as unknown as typeof fetch;
    for (const bad of ['bert-tiny', '../etc/passwd', 'a/../b', 'owner/na..me', 'owner/name/extra', '', 'owner/-x', 'own er/name']) {
      await expect(fetchHubModel(bad, { fetch: counting })).rejects.toMatchObject({ kind: 'bad-id' });
    }
    expect(calls).toBe(0);
    expect(validateHubId(' BAAI/bge-reranker-base ')).toBe('BAAI/bge-reranker-base');
  });

  it('refuses shard names in an index that are paths', async () => {
    const index = new TextEncoder().encode(JSON.stringify({ weight_map: { w: '../secret.safetensors' } }));
    const fake = (async (url: string | URL | Request) => {
      const file = String(url).split('/').pop();
      if (file === 'config.json' || file === 'tokenizer.json') return new Response('{}');
      if (file === 'model.safetensors.index.json') return new Response(index);
      return new Response('', { status: 404 });
    }) as typeof fetch;
    await expect(fetchHubModel('test/evil', { fetch: fake })).rejects.toThrow(/names a shard "\.\.\/secret\.safetensors" that is not a plain \.safetensors file name/);
  });
});
