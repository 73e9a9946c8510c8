import { describe, expect, it } from 'vitest';
import { ExitSignal, InvalidArgumentError, TimeoutError } from '../../../src/errors.js';
import { Mailbox } from '../../../src/process/mailbox.js';
import { realClock } from '../../../src/time/clock.js';

describe('Mailbox', () => {
  it('receives messages in the order they were pushed', async () => {
    const mailbox = new Mailbox(realClock);
    for (let i = 0; i < 5; i++) mailbox.push(i);
    expect(mailbox.size).toBe(5);
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await mailbox.receive());
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(mailbox.size).toBe(0);
  });

  it('keeps FIFO order across ring growth and wrap-around', async () => {
    const mailbox = new Mailbox(realClock);
    let next = 0;
    const got: number[] = [];
    // Interleave pushes and receives so the head moves around the ring while it grows.
    for (let round = 1; round <= 40; round++) {
      for (let i = 0; i < round * 3; i++) mailbox.push(next++);
      for (let i = 0; i < round * 2; i++) got.push((await mailbox.receive()) as number);
    }
    while (mailbox.size > 0) got.push((await mailbox.receive()) as number);
    expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('hands a message to a waiting receiver without queuing it', async () => {
    const mailbox = new Mailbox(realClock);
    const pending = mailbox.receive();
    mailbox.push('hello');
    expect(mailbox.size).toBe(0);
    await expect(pending).resolves.toBe('hello');
  });

  it('rejects with TimeoutError when no message arrives in time, and keeps later messages', async () => {
    const mailbox = new Mailbox(realClock);
    const error = await mailbox.receive(10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    mailbox.push('late');
    await expect(mailbox.receive(10)).resolves.toBe('late');
  });

  it('timeoutMs 0 takes a queued message or rejects at once', async () => {
    const mailbox = new Mailbox(realClock);
    await expect(mailbox.receive(0)).rejects.toBeInstanceOf(TimeoutError);
    mailbox.push(1);
    await expect(mailbox.receive(0)).resolves.toBe(1);
  });

  it('a message that beats the timeout cancels it', async () => {
    const mailbox = new Mailbox(realClock);
    const pending = mailbox.receive(20);
    mailbox.push('first');
    await expect(pending).resolves.toBe('first');
    // If the first timer were still armed it would reject this second receive early.
    const second = mailbox.receive(200);
    setTimeout(() => mailbox.push('second'), 40);
    await expect(second).resolves.toBe('second');
  });

  it('close rejects the waiting receive with ExitSignal(reason), drops later pushes and rejects later receives', async () => {
    const mailbox = new Mailbox(realClock);
    const pending = mailbox.receive();
    mailbox.close('shutdown');
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExitSignal);
    expect((error as ExitSignal).reason).toBe('shutdown');
    expect(mailbox.push('dropped')).toBe(false);
    expect(mailbox.size).toBe(0);
    await expect(mailbox.receive()).rejects.toBeInstanceOf(ExitSignal);
  });

  it('mailboxes closed one after another each carry their own reason (a signal is shared only by equal reasons)', async () => {
    const reasons: unknown[] = ['shutdown', 'shutdown', 'kill', { code: 1 }, { code: 1 }, 'shutdown'];
    const mailboxes = reasons.map(() => new Mailbox(realClock));
    const pending = mailboxes.map((mailbox) => mailbox.receive().catch((e: unknown) => e));
    mailboxes.forEach((mailbox, i) => mailbox.close(reasons[i]));
    const errors = (await Promise.all(pending)) as ExitSignal[];
    errors.forEach((error, i) => {
      expect(error).toBeInstanceOf(ExitSignal);
      expect(error.reason).toBe(reasons[i]);
      expect(error.message).toBe(`process was exited (reason: ${typeof reasons[i] === 'string' ? reasons[i] : JSON.stringify(reasons[i])})`);
    });
  });

  it('close drops queued messages', async () => {
    const mailbox = new Mailbox(realClock);
    mailbox.push(1);
    mailbox.push(2);
    mailbox.close('kill');
    expect(mailbox.size).toBe(0);
    await expect(mailbox.receive()).rejects.toBeInstanceOf(ExitSignal);
  });

  it('refuses a second receive while one is waiting, and bad timeouts', async () => {
    const mailbox = new Mailbox(realClock);
    const first = mailbox.receive();
    await expect(mailbox.receive()).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(mailbox.receive(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(mailbox.receive(Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    mailbox.push('still works');
    await expect(first).resolves.toBe('still works');
  });
});
