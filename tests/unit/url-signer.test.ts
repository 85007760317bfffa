import { UrlSigner } from '../../src/domain/shared/url-signer';

/**
 * Signed download URLs (docs/graphql-api.md "Uploading files" and avatars; SECURITY.md): a signature covers
 * every part and the expiry, is checked in constant time, expires, and a signer of another label
 * (attachments vs avatars) or secret never accepts it.
 */
describe('UrlSigner', () => {
  const secret = Buffer.from('0123456789abcdef0123456789abcdef');
  const media = new UrlSigner(secret, 'media-url-v1');
  const now = 1_800_000_000_000;
  const exp = now / 1000 + 60;

  test('accepts its own signature until exp, then refuses it', () => {
    const sig = media.sign([7, 'file'], exp);
    expect(media.verify([7, 'file'], exp, sig, now)).toBe(true);
    expect(media.verify([7, 'file'], String(exp), sig, now)).toBe(true);
    expect(media.verify([7, 'file'], exp, sig, (exp + 1) * 1000)).toBe(false);
    // `signs` ignores the expiry (recognising an expired URL of this server).
    expect(media.signs([7, 'file'], exp, sig)).toBe(true);
  });

  test('refuses another part, another exp, another label or secret, and malformed input', () => {
    const sig = media.sign([7, 'file'], exp);
    expect(media.verify([8, 'file'], exp, sig, now)).toBe(false);
    expect(media.verify([7, 'thumbnail'], exp, sig, now)).toBe(false);
    expect(media.verify([7, 'file'], exp + 1, sig, now)).toBe(false);
    expect(new UrlSigner(secret, 'avatar-url-v1').verify([7, 'file'], exp, sig, now)).toBe(false);
    expect(new UrlSigner(Buffer.from('another secret of 32 bytes......'), 'media-url-v1').verify([7, 'file'], exp, sig, now)).toBe(false);
    for (const bad of [undefined, null, '', sig.slice(1), `${sig}x`, 42]) expect(media.signs([7, 'file'], exp, bad)).toBe(false);
    for (const badExp of [undefined, null, '', 'soon', 1.5]) expect(media.signs([7, 'file'], badExp, sig)).toBe(false);
  });
});
