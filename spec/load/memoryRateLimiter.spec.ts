import { memoryRateLimiter } from '../../src/load/memoryRateLimiter';

/** A clock the test moves by hand (memoryRateLimiter only reads `now()`). */
function clock() {
  const scheduler = { time: 0, now: () => scheduler.time, schedule: () => ({ unsubscribe: () => undefined }) as never };
  return scheduler;
}
const cost = (tokens = 0) => ({ requests: 1, tokens });

describe('memoryRateLimiter', () => {
  it('starts full, refills continuously up to a minute of budget, and says how long until a cost fits', () => {
    const scheduler = clock();
    const limiter = memoryRateLimiter({ requestsPerMinute: 2, tokensPerMinute: undefined, scheduler });
    expect([limiter.take(cost()), limiter.take(cost())]).toEqual([0, 0]);
    expect(limiter.take(cost())).toBe(30_000);
    scheduler.time = 15_000;
    expect(limiter.take(cost())).toBe(15_000); // half a request refilled
    scheduler.time = 600_000; // long idle: full (2), never more
    expect([limiter.take(cost()), limiter.take(cost()), limiter.take(cost()) > 0]).toEqual([0, 0, true]);
  });

  it('takes requests and tokens together or not at all, and counts a cost larger than a bucket as the whole bucket', () => {
    const scheduler = clock();
    const limiter = memoryRateLimiter({ requestsPerMinute: 10, tokensPerMinute: 600, scheduler });
    expect(limiter.take(cost(500))).toBe(0);
    expect(limiter.take(cost(200))).toBe(10_000); // 100 left, 100 more at 10 a second
    expect(limiter.take(cost(100))).toBe(0); // the refusal took nothing: 100 (requests too) still there
    expect(limiter.take(cost(10_000))).toBe(60_000); // waits for a full bucket, not forever
  });

  it('tightens to what the provider says remains, holds until its reset when none does, and never loosens', () => {
    const scheduler = clock();
    const limiter = memoryRateLimiter({ requestsPerMinute: 60, tokensPerMinute: 6000, scheduler });
    limiter.observe({ remainingTokens: 100, resetTokensMs: 360_000, remainingRequests: 1000 });
    expect(limiter.take(cost(300))).toBe(2_000); // 200 more at 100 a second; 1000 remaining requests change nothing
    limiter.observe({ remainingRequests: 0, resetRequestsMs: 5_000 });
    expect(limiter.take(cost())).toBe(5_000);
    scheduler.time = 5_000;
    expect(limiter.take(cost(300))).toBe(0);
  });

  it('corrects a taken estimate by the actual tokens, within empty and a full bucket', () => {
    const scheduler = clock();
    const limiter = memoryRateLimiter({ requestsPerMinute: 60, tokensPerMinute: 6000, scheduler });
    const taken = cost(4000);
    expect(limiter.take(taken)).toBe(0); // 2000 left
    limiter.correct(taken, 1000); // 3000 back: 5000
    expect(limiter.take(cost(5000))).toBe(0); // 0 left
    limiter.correct(cost(0), 100); // 100 more than estimated: stays at empty, no debt
    expect(limiter.take(cost(600))).toBe(6_000); // 600 at 100 a second from empty
    limiter.correct(cost(10_000), 0); // a refund counts the estimate as at most the whole bucket, and never overfills it
    expect([limiter.take(cost(6000)), limiter.take(cost(1))]).toEqual([0, 10]);
    const requestsOnly = memoryRateLimiter({ requestsPerMinute: 1, tokensPerMinute: undefined, scheduler });
    requestsOnly.correct(cost(0), 1_000_000); // no token budget: nothing to correct
    expect(requestsOnly.take(cost(0))).toBe(0);
  });
});
