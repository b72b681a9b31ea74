// An in-memory stand-in for the origin-private file system (just what src/workers/train/opfs.ts and the page use):
// a file's new content replaces the old only when its writable is closed, as in browsers; `failAfter` makes the
// n-th close from now on throw, which stands for the page being reloaded at that moment.
export class FakeWritable {
  private data: Uint8Array | undefined;
  constructor(private readonly commit: (b: Uint8Array) => void, private readonly fs: FakeOpfs) {}
  async write(b: Uint8Array | string) {
    this.data = typeof b === 'string' ? new TextEncoder().encode(b) : new Uint8Array(b);
  }
  async close() {
    this.fs.tick();
    this.commit(this.data ?? new Uint8Array());
  }
  async abort() {}
}

export class FakeFileHandle {
  readonly kind = 'file';
  constructor(private readonly dir: FakeDir, readonly name: string) {}
  async getFile() {
    const b = this.dir.files.get(this.name);
    if (!b) throw new DOMException('gone', 'NotFoundError');
    return { arrayBuffer: async () => b.slice().buffer, text: async () => new TextDecoder().decode(b) };
  }
  async createWritable() {
    return new FakeWritable((b) => this.dir.files.set(this.name, b), this.dir.fs);
  }
}

export class FakeDir {
  readonly kind = 'directory';
  readonly dirs = new Map<string, FakeDir>();
  readonly files = new Map<string, Uint8Array>();
  constructor(readonly fs: FakeOpfs) {}
  async getDirectoryHandle(name: string, o: { create?: boolean } = {}) {
    let d = this.dirs.get(name);
    if (!d) {
      if (!o.create) throw new DOMException(name, 'NotFoundError');
      this.dirs.set(name, (d = new FakeDir(this.fs)));
    }
    return d;
  }
  async getFileHandle(name: string, o: { create?: boolean } = {}) {
    if (!this.files.has(name)) {
      if (!o.create) throw new DOMException(name, 'NotFoundError');
      this.files.set(name, new Uint8Array());
    }
    return new FakeFileHandle(this, name);
  }
  async removeEntry(name: string) {
    if (!this.dirs.delete(name) && !this.files.delete(name)) throw new DOMException(name, 'NotFoundError');
  }
  /** Every path below, for assertions. */
  list(prefix = ''): string[] {
    return [...[...this.files.keys()].map((f) => prefix + f), ...[...this.dirs].flatMap(([n, d]) => d.list(`${prefix}${n}/`))].sort();
  }
}

export class FakeOpfs {
  readonly root = new FakeDir(this);
  private countdown = Infinity;
  failAfter(n: number) {
    this.countdown = n;
  }
  tick() {
    if (--this.countdown <= 0) {
      this.countdown = Infinity;
      throw new Error('reloaded');
    }
  }
}
