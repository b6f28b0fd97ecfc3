import { rateLimitHeaders } from '../../src/load/rateLimitHeaders';

describe('rateLimitHeaders', () => {
  it("reads OpenAI's remaining counts and Go-style reset durations", () => {
    expect(
      rateLimitHeaders({
        'x-ratelimit-remaining-requests': '59',
        'x-ratelimit-reset-requests': '1s',
        'x-ratelimit-remaining-tokens': '149000',
        'x-ratelimit-reset-tokens': '6m0s',
      }),
    ).toEqual({ remainingRequests: 59, resetRequestsMs: 1000, remainingTokens: 149_000, resetTokensMs: 360_000 });
    expect(rateLimitHeaders({ 'x-ratelimit-reset-requests': '20ms', 'x-ratelimit-reset-tokens': '1.5s' })).toEqual({ resetRequestsMs: 20, resetTokensMs: 1500 });
    expect(rateLimitHeaders({ 'x-ratelimit-reset-requests': '1h2m3s', 'x-ratelimit-reset-tokens': '2' })).toEqual({ resetRequestsMs: 3_723_000, resetTokensMs: 2000 });
  });

  it('leaves out what is missing or unreadable', () => {
    expect(rateLimitHeaders({})).toEqual({});
    expect(rateLimitHeaders({ 'x-ratelimit-remaining-requests': 'many', 'x-ratelimit-reset-requests': 'soon', 'x-ratelimit-remaining-tokens': '-1' })).toEqual({});
  });
});
