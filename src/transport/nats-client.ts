import { InvalidArgumentError } from '../errors.js';

/**
 * The slice of the NATS client (`@nats-io/transport-node` v3) the nats transport uses, written
 * out structurally: the client is an optional peer dependency, so neither this library's code
 * nor its published types may import it statically.
 */
export interface NatsMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply?: string;
  respond(data?: Uint8Array): boolean;
}

export interface NatsSubscription {
  unsubscribe(): void;
}

export interface NatsStatus {
  readonly type: string;
  readonly server?: string;
  readonly error?: unknown;
}

export interface NatsConnection {
  readonly info?: { readonly max_payload: number };
  publish(subject: string, data?: Uint8Array): void;
  subscribe(subject: string, options: { callback: (error: Error | null, message: NatsMessage) => void }): NatsSubscription;
  request(subject: string, data: Uint8Array, options: { timeout: number }): Promise<NatsMessage>;
  flush(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<void | Error>;
  status(): AsyncIterable<NatsStatus>;
  isClosed(): boolean;
  getServer(): string;
}

export interface NatsClientModule {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
  credsAuthenticator(creds: Uint8Array): unknown;
}

export const NATS_CLIENT_PACKAGE = '@nats-io/transport-node';

/**
 * Load the client on first use, so that users of the other transports never load (or install) it.
 * `specifier` exists for the test of the missing-package message.
 */
export async function loadNatsClient(specifier: string = NATS_CLIENT_PACKAGE): Promise<NatsClientModule> {
  let loaded: Partial<NatsClientModule>;
  try {
    loaded = (await import(specifier)) as Partial<NatsClientModule>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new InvalidArgumentError(
        `the nats transport needs the NATS client, an optional peer dependency that is not installed: run \`npm install ${NATS_CLIENT_PACKAGE}@^3.4\``,
      );
    }
    throw error;
  }
  if (typeof loaded.connect !== 'function' || typeof loaded.credsAuthenticator !== 'function') {
    throw new InvalidArgumentError(`the nats transport needs ${NATS_CLIENT_PACKAGE} v3 (connect, credsAuthenticator); the installed ${specifier} does not export them`);
  }
  return loaded as NatsClientModule;
}
