// A local OpenAI-style chat server whose behaviour each test sets: `handle(req)` returns what to answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  prompt: string;
  at: number;
}

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** The assistant's text (wrapped as a chat completion), or `raw` as the whole body. */
  content?: string;
  raw?: string;
}

export interface ChatServer {
  url: string;
  requests: ChatRequest[];
  handle: (req: ChatRequest) => Answer;
  close(): Promise<void>;
}

export async function startChatServer(): Promise<ChatServer> {
  const s: Partial<ChatServer> & { requests: ChatRequest[] } = { requests: [], handle: () => ({ content: '问题？' }) };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const r: ChatRequest = { prompt: (JSON.parse(body) as { messages: { content: string }[] }).messages[0].content, at: performance.now() };
      s.requests.push(r);
      const a = s.handle!(r);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
      res.end(a.raw ?? JSON.stringify({ choices: [{ message: { role: 'assistant', content: a.content ?? '' } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  s.close = () => new Promise<void>((r) => server.close(() => r()));
  return s as ChatServer;
}
