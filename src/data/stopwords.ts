// A small stopword list for BM25 in 'default' mode: Chinese function words and the commonest English ones.
// Kept short on purpose: a long list removes words that carry meaning in government and technical text
// (e.g. 不得, 应当 are kept: they distinguish obligations from permissions).

const ZH =
  '的 了 和 与 及 或 是 在 也 就 都 而 且 并 等 之 其 这 那 此 该 各 每 被 把 将 对 于 以 由 从 向 为 所 者 着 过 吗 呢 吧 啊 呀 ' +
  '个 一个 一些 这个 那个 这些 那些 我 你 他 她 它 我们 你们 他们 她们 它们 自己 什么 怎么 如何 哪 哪个 哪些 哪里 谁 ' +
  '几 多少 吗 么 么样 怎样 怎么样 为什么 还 又 再 很 太 更 最 已 已经 曾 曾经 会 能 可 可以 要 想 有 没有 没 不是 ' +
  '因为 所以 但是 但 如果 虽然 然后 而且 并且 或者 以及 还是 就是 只是 即 即使 因此 于是 然而 之后 之前 以后 以前 ' +
  '上 下 中 里 内 外 时 后 前 间 来 去 到 给 让 使 被 比 跟 同 啦 嘛 哦 嗯 呗 罢了 而已 其中 其他 其它 有关 关于 通过 进行';

const EN =
  'a an the and or but if then else of to in on at by for with from as is are was were be been being it its this that these ' +
  'those there here what which who whom whose when where why how do does did doing have has had not no nor so than too very ' +
  'can will just should would could i you he she we they me him her us them my your his our their';

export const STOPWORDS: ReadonlySet<string> = new Set([...ZH.split(' '), ...EN.split(' ')].filter(Boolean));
