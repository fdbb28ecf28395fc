// The live run view's counters: the step's batch train accuracy comes with each run/progress event.
import { flushSync, mount, unmount } from 'svelte';
import { describe, expect, it } from 'vitest';

import RunControls from '../../../renderer/src/components/run/RunControls.svelte';
import { RunView } from '../../../renderer/src/lib/state/run-view.svelte.ts';
import { testBridge } from '../bridge.ts';
import { progress } from '../fixtures.ts';

describe('RunControls', () => {
  it('shows the batch accuracy of the latest progress, and a dash when the problem reports none', () => {
    const view = new RunView(testBridge(), 7);
    const target = document.createElement('div');
    document.body.appendChild(target);
    const component = mount(RunControls, { target, props: { view } });
    try {
      const shown = () => target.querySelector('[data-testid="batch-accuracy"]')?.textContent?.trim();
      expect(shown()).toBe('–');
      view.progress = progress(7, 3, { accuracy: 0.625 });
      flushSync();
      expect(shown()).toBe('62.5%');
      view.progress = progress(7, 4, { accuracy: null });
      flushSync();
      expect(shown()).toBe('–');
    } finally {
      unmount(component);
      target.remove();
      view.dispose();
    }
  });
});
