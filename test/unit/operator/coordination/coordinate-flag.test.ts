import { describe, expect, it } from '@jest/globals';
import { parseConfig, usage } from '../../../../operator/src/config.ts';

describe('--coordinate', () => {
  it('is on by default and can be turned off by flag or environment', () => {
    expect(parseConfig([], {})).toMatchObject({ coordinate: true });
    expect(parseConfig(['--coordinate=false'], {})).toMatchObject({ coordinate: false });
    expect(parseConfig(['--no-coordinate'], {})).toMatchObject({ coordinate: false });
    expect(parseConfig([], { CAPSTAN_COORDINATE: 'false' })).toMatchObject({ coordinate: false });
    expect(parseConfig(['--coordinate'], { CAPSTAN_COORDINATE: 'false' })).toMatchObject({
      coordinate: true,
    });
    expect(() => parseConfig([], { CAPSTAN_COORDINATE: 'maybe' })).toThrow(/--coordinate/);
  });

  it('is listed in --help with its variable and default', () => {
    expect(usage()).toMatch(
      /--\[no-\]coordinate\[=true\|false\] \[\$CAPSTAN_COORDINATE\]\n.*\(default true\)/,
    );
  });
});
