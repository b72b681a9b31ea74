// Prints src/data/gguf.ts's reading of each GGUF file given, as JSON lines, for check_gguf_header.py.
import { openAsBlob } from 'node:fs';
import { readGgufInfo } from '../../src/data/gguf.ts';

for (const path of process.argv.slice(2)) console.log(JSON.stringify({ path, ...(await readGgufInfo(await openAsBlob(path), path)) }));
