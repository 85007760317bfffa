import pino, { type Logger } from 'pino';

/** The structured (JSON) logger of the whole server. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'chat-server' }, redact: ['req.headers.authorization', 'req.headers.cookie'] });
}
