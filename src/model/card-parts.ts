// The parts every README.md the lab writes shares: the Hub front matter (so the Hub and sentence-transformers know
// the folder is a cross-encoder reranker) and the three lines that load it. The lab's full card (src/eval/model-card.ts)
// and the plain card of a saved folder (hf-folder.ts) both use them.

export const CARD_FRONT_MATTER = ['---', 'library_name: sentence-transformers', 'pipeline_tag: text-ranking', 'tags: [cross-encoder, reranker, rerank-lab]', '---'];

export const CARD_USAGE = ['```python', 'from sentence_transformers import CrossEncoder', "model = CrossEncoder('path/to/this/folder')", "scores = model.predict([('query', 'passage')])", '```'];
