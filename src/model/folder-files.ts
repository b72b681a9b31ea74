// Which files of a Hugging Face model folder matter: the ones the loader reads, and the ones an export carries over.
// No imports, so the page can filter a dropped folder without loading the model code.

/**
 * The files of a loaded folder that a saved one keeps: the tokenizer's files and licence texts. Everything else is
 * stale next to trained weights — other weights and optimizer states, the base model's README (the export gets its
 * own card), and a bi-encoder's sentence-transformers files (modules.json, 1_Pooling/ …), which would make
 * sentence-transformers rebuild the old embedding pipeline instead of a CrossEncoder.
 */
export function isExportedFile(name: string): boolean {
  return /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|vocab\.txt|vocab\.json|merges\.txt|sentencepiece\.bpe\.model|(LICEN[CS]E|NOTICE|COPYING)(\.(txt|md))?)$/i.test(name);
}

/** Files a model folder may hold that the loader reads (the page sends only these to its worker). */
export function isModelFolderFile(name: string): boolean {
  return (
    isExportedFile(name) ||
    /^(config\.json|config_sentence_transformers\.json|modules\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|pytorch_model(-\d+-of-\d+)?\.bin|pytorch_model\.bin\.index\.json)$/.test(name)
  );
}
