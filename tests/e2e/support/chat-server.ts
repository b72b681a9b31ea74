// A tiny OpenAI-format chat server on 127.0.0.1 for the e2e test: POST /v1/chat/completions answers one question
// about the chunk in the prompt (deterministic, never a copy of the chunk). CORS is open because the page runs on
// another port. Counts requests so the test can check the page really used it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatServer {
  url: string;
  requests: () => number;
  close: () => Promise<void>;
}

const TEMPLATES = ['关于{x}有什么规定？', '{x}应该怎么办理？', '请问{x}需要注意什么？', '{x}的具体要求是什么？'];

/** The question for a prompt: picks a few characters from the middle of the chunk's first sentence. */
export function questionFor(prompt: string): string {
  const doc = prompt.split('文档：').pop()!.trim();
  const letters = [...doc.replace(/[\s\p{P}\p{S}\d]/gu, '')];
  const at = Math.min(2, Math.max(0, letters.length - 6));
  const x = letters.slice(at, at + 5).join('') || '这个问题';
  let h = 0;
  for (const ch of doc) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return TEMPLATES[h % TEMPLATES.length].replace('{x}', x);
}

export function startChatServer(): Promise<ChatServer> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'content-type, authorization');
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return void res.writeHead(404).end('not found');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      count++;
      let content = '';
      try {
        const msg = JSON.parse(body) as { messages: { role: string; content: string }[] };
        content = questionFor(msg.messages.at(-1)?.content ?? '');
      } catch {
        return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `chat-${count}`, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({ url: `http://127.0.0.1:${port}/v1`, requests: () => count, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
