"""src/data/gguf.ts against gguf-py (llama.cpp's own GGUF reader) on the real models scripts/fetch-models.sh brings:
architecture, name, type, weight format, size label, context length, chat template, tensor count, and the bytes the
tensors need (which must equal the file size of a complete file)."""
import json
import os
import subprocess
import sys

import gguf
from gguf.constants import LlamaFileType

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
subprocess.run(["bash", "scripts/fetch-models.sh", "all"], cwd=root, check=True)
paths = [os.path.join(root, ".models", f) for f in sorted(os.listdir(os.path.join(root, ".models"))) if f.endswith(".gguf")]
out = subprocess.run(["npx", "tsx", "tests/python/gguf-info.ts", *paths], cwd=root, check=True, capture_output=True, text=True).stdout
ours = {d["path"]: d for d in map(json.loads, out.strip().splitlines())}

failed = 0
for p in paths:
    r = gguf.GGUFReader(p)
    f = lambda k: r.fields[k].contents() if k in r.fields else None
    arch = f("general.architecture")
    ft = f("general.file_type")
    want = {
        "architecture": arch,
        "name": f("general.name"),
        "type": f("general.type"),
        "quantization": None if ft is None else LlamaFileType(ft).name.removeprefix("MOSTLY_").removeprefix("ALL_"),
        "sizeLabel": f("general.size_label"),
        "contextLength": f(f"{arch}.context_length"),
        "hasChatTemplate": "tokenizer.chat_template" in r.fields,
        "tensorCount": len(r.tensors),
        "expectedBytes": max(int(t.data_offset) + int(t.n_bytes) for t in r.tensors),
        "fileBytes": os.path.getsize(p),
    }
    got = ours[p]
    bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    print(f"{os.path.basename(p)}: {'OK' if not bad else 'MISMATCH ' + json.dumps(bad, ensure_ascii=False)}")
    failed += bool(bad)
sys.exit(1 if failed else 0)
