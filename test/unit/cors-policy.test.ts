import { CorsPolicy } from '../../src/http/cors-policy.js';
import { mergeVary } from '../../src/http/vary.js';

const config = {
  allowed_origins: ['https://app.example.com'],
  allowed_headers: ['authorization', 'content-type', 'authorization'],
  exposed_headers: ['x-request-id'],
  max_age: 90_500,
  allow_credentials: false,
};

describe('CorsPolicy', () => {
  const cors = new CorsPolicy(config, ['GET', 'POST', 'GET']);

  it('answers an allowed origin with that origin, never a list or *', () => {
    expect(cors.responseHeaders('https://app.example.com')).toEqual({
      'Access-Control-Allow-Origin': 'https://app.example.com',
      'Access-Control-Expose-Headers': 'x-request-id',
      Vary: 'Origin',
    });
  });

  it.each([undefined, '', 'null', 'https://app.example.com.evil', 'https://app.example.com ', 'HTTPS://app.example.com'])('gives %p only Vary', (origin) => {
    expect(cors.responseHeaders(origin)).toEqual({ Vary: 'Origin' });
  });

  it('answers a preflight with the allowed lists, each name once, max-age in whole seconds', () => {
    expect(cors.preflight({ origin: 'https://app.example.com', method: 'POST', headers: 'Content-Type, Authorization' })).toEqual({
      allowed: true,
      headers: {
        'Access-Control-Allow-Origin': 'https://app.example.com',
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'authorization, content-type',
        'Access-Control-Max-Age': '90',
        Vary: 'Origin',
      },
    });
  });

  it('refuses what a preflight asks beyond the configuration, and says which', () => {
    expect(cors.preflight({ origin: 'https://evil.example', method: 'GET', headers: undefined })).toMatchObject({ allowed: false, refused: 'origin' });
    expect(cors.preflight({ origin: 'https://app.example.com', method: 'get', headers: undefined })).toMatchObject({ allowed: false, refused: 'method' });
    expect(cors.preflight({ origin: 'https://app.example.com', method: 'GET', headers: 'authorization, x-evil\u0000' })).toEqual({
      allowed: false,
      refused: 'header',
      description: 'CORS preflight refused: header x-evil? is not allowed',
    });
  });

  it('with "*": every origin (null too) gets "*", and credentials are never sent with it', () => {
    const any = new CorsPolicy({ ...config, allowed_origins: ['*'] }, ['GET']);
    expect(any.responseHeaders('null')).toMatchObject({ 'Access-Control-Allow-Origin': '*' });
    expect(any.responseHeaders(undefined)).toEqual({ Vary: 'Origin' });
  });

  it('with credentials: Access-Control-Allow-Credentials on answers and preflights', () => {
    const withCredentials = new CorsPolicy({ ...config, allow_credentials: true }, ['GET']);
    expect(withCredentials.responseHeaders('https://app.example.com')).toMatchObject({ 'Access-Control-Allow-Credentials': 'true' });
    expect(withCredentials.preflight({ origin: 'https://app.example.com', method: 'GET', headers: '' })).toMatchObject({
      headers: { 'Access-Control-Allow-Credentials': 'true' },
    });
  });
});

describe('mergeVary', () => {
  it.each<[Parameters<typeof mergeVary>[0], string, string]>([
    [undefined, 'Origin', 'Origin'],
    ['Origin', 'Accept-Encoding', 'Origin, Accept-Encoding'],
    ['Origin', 'origin, Accept-Encoding', 'Origin, Accept-Encoding'],
    [['Origin', 'Accept'], 'Accept-Encoding', 'Origin, Accept, Accept-Encoding'],
    ['Origin', '*', '*'],
  ])('%p + %p = %p', (current, more, merged) => {
    expect(mergeVary(current, more)).toBe(merged);
  });
});
