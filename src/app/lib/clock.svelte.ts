// One ticking clock for every "elapsed" display: a reactive `now`, updated each second while the page is open, so
// elapsed times keep moving while a probe or a training step runs (they froze when read from Date.now() in markup).
class Clock {
  now = $state(Date.now());
  constructor() {
    if (typeof window !== 'undefined') setInterval(() => (this.now = Date.now()), 1000);
  }
}

export const clock = new Clock();
