// The default instruction for query generation (Chinese, as the seed's): one question a real user would type that
// this chunk answers. `{chunk}` is replaced by the chunk text; a prompt without it gets the chunk appended.

export const DEFAULT_QUERY_PROMPT = [
  '下面是一段文档内容。请站在真实用户的角度，提出一个这段内容能够回答的问题。',
  '要求：只输出问题本身，不要解释，不要编号，不要照抄原文整句，长度不超过40个字。',
  '',
  '文档：',
  '{chunk}',
].join('\n');

export function renderPrompt(template: string, chunkText: string): string {
  return template.includes('{chunk}') ? template.split('{chunk}').join(chunkText) : `${template}\n\n${chunkText}`;
}

/** Cleans a model's answer into one query: drops reasoning blocks, labels, numbering, quotes, extra lines. */
export function cleanGeneratedQuery(raw: string): string {
  let s = raw.replace(/<think>[\s\S]*?<\/think>/gi, '').trim();
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  s = lines[0] ?? '';
  s = s.replace(/^(问题|查询|Question|Query)\s*[:：]\s*/i, '').replace(/^\d+[.、)]\s*/, '');
  s = s.replace(/^["“”'‘’「『]+|["“”'‘’」』]+$/g, '').trim();
  return s;
}
