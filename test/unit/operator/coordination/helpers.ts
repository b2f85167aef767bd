import type { Timers } from '../../../../common/src/timers.ts';
import { applyDefaults, type WithoutDefaults } from '../../../../operator/src/api/defaults.ts';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { ManualClock, type CancelTimer } from '../../../../operator/src/runtime/index.ts';

type AppInput = WithoutDefaults<DistributedApp>;

/** A DistributedApp as the apiserver stores it (defaults applied, uid set). */
export function storedApp(
  name: string,
  spec: Partial<AppInput['spec']> = {},
  metadata: Partial<AppInput['metadata']> = {},
): DistributedApp {
  return applyDefaults({
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name, namespace: 'demo', uid: `uid-${name}`, generation: 1, ...metadata },
    spec: { workers: { upstream: 'http://backend.default.svc:8080' }, ...spec },
  });
}

/** common's Timers over a runtime ManualClock: time moves only with `clock.advance()`. */
export function manualTimers(clock: ManualClock): Timers {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimer(fn, ms),
    clearTimeout: (handle) => (handle as CancelTimer | undefined)?.(),
  };
}

/** Lets every pending promise callback run (no time passes on the manual clock). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Advances `clock` by `ms` in steps of `stepMs`, settling promises after each step. */
export async function advance(clock: ManualClock, ms: number, stepMs = 250): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    await settle();
  }
}
