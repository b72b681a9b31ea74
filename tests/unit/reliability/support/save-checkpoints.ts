// Child process for the kill tests: saves the checkpoints of steps 1..N into a folder, one after the other, the way
// `train` does. The test sets RERANK_LAB_KILL_AT (src/util/test-point.ts) to kill it at a chosen moment.
import { saveCheckpointFolder } from '../../../../src/train/checkpoint-node.ts';
import { fakeCheckpoint } from './fake-checkpoint.ts';

const [dir, n] = process.argv.slice(2);
for (let step = 1; step <= Number(n); step++) await saveCheckpointFolder(dir, fakeCheckpoint(step));
console.log('saved');
