import { inLane, laneField, withoutLane } from '../../src/load/lane';
import type { LlmRequest } from '../../src/core/request';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

describe('lane helpers', () => {
  it('sets, reads and strips the rxllm_lane field without touching the rest', () => {
    const laned = inLane('background', request);
    expect(laned).toEqual({ ...request, rxllm_lane: 'background' });
    expect(laneField(laned)).toBe('background');
    expect(laneField(request)).toBeUndefined();
    expect(laneField({ ...request, rxllm_lane: 3 } as LlmRequest)).toBeUndefined();
    expect(withoutLane(laned)).toEqual(request);
    expect(withoutLane(request)).toBe(request);
  });
});
