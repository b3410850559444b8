#!/usr/bin/env node
// The Telegram Bot API emulator the end-to-end tests and bench/telegram_latency.py talk to:
// telegram-test-api's TelegramServer on 127.0.0.1:<port from argv>, with webhook delivery
// made to behave like Telegram's.
//
//   node tests/telegram/emulator.js <port>
//
// What is changed from the package, and why:
// * A webhook set with `secret_token` gets it back in the X-Telegram-Bot-Api-Secret-Token
//   header of every delivery (the package sends no header; Telegram does), and
//   `allowed_updates` is honoured: other update types are not delivered.
// * A delivery the webhook refuses (4xx/5xx) or cannot take is recorded, not thrown: the
//   package lets such a rejection escape and Node then ends the whole process.
// * POST /sendMessage and /sendCallback answer after the webhook has answered, with
//   {update_id, webhook_status}; the package answers before delivering.
// * POST /sendUpdate {botToken, update} delivers a raw update (edited_message,
//   my_chat_member, a repeated update_id...) through the same webhook path.
// * GET/POST /bot<token>/getWebhookInfo answers like Telegram (url, allowed_updates), so
//   a client can wait until the bot has registered its webhook.
// * The message a bot method returns has its `date` in seconds, as Telegram's has (the
//   package gives milliseconds, which aiogram cannot read as a date).
// * Stored messages are kept for an hour instead of a minute, for long test sessions.
// Prints one line `telegram emulator ready on http://127.0.0.1:<port>` when it listens and
// stops on SIGTERM or SIGINT.
'use strict';

const TelegramServer = require('telegram-test-api');
const { routes } = require('telegram-test-api/lib/routes/index');

const SECRET_HEADER = 'X-Telegram-Bot-Api-Secret-Token';
const DELIVERY_TIMEOUT_MS = 60000;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node emulator.js <port>\n');
  process.exit(2);
}

function updateType(update) {
  return Object.keys(update).find((key) => key !== 'update_id') || 'unknown';
}

function allowedUpdates(webhook) {
  let allowed = webhook.allowed_updates;
  if (typeof allowed === 'string') {
    try {
      allowed = JSON.parse(allowed);
    } catch (error) {
      allowed = [];
    }
  }
  return Array.isArray(allowed) && allowed.length ? allowed : null;
}

// POSTs one update to the bot's webhook as Telegram does; returns the HTTP status,
// 'filtered' (not an allowed update type), 'no-webhook' or 'unreachable'.
async function deliver(server, botToken, update) {
  const webhook = server.webhooks[botToken];
  if (!webhook) {
    return 'no-webhook';
  }
  const allowed = allowedUpdates(webhook);
  if (allowed && !allowed.includes(updateType(update))) {
    return 'filtered';
  }
  const headers = { 'Content-Type': 'application/json' };
  if (webhook.secret_token) {
    headers[SECRET_HEADER] = String(webhook.secret_token);
  }
  try {
    const response = await fetch(webhook.url, {
      method: 'POST', headers, body: JSON.stringify(update),
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    process.stderr.write(`telegram emulator: delivery to ${webhook.url} failed: ${error}\n`);
    return 'unreachable';
  }
}

// The package's own addUserUpdate, with the delivery above; without a webhook the update
// is stored for getUpdates as before.
TelegramServer.prototype.addUserUpdate = async function addUserUpdate(update) {
  if (!update.botToken) {
    throw new Error('The message must be of type object and must contain `botToken` field.');
  }
  const updateId = update.updateId;
  this.updateId += 1;
  if (this.webhooks[update.botToken]) {
    update.webhookStatus = await deliver(this, update.botToken, TelegramServer.formatUpdate(update));
  } else {
    this.storage.userMessages.push(update);
    update.webhookStatus = 'no-webhook';
  }
  return updateId;
};

const addBotMessage = TelegramServer.prototype.addBotMessage;
TelegramServer.prototype.addBotMessage = function addBotMessageInSeconds(rawMessage, botToken) {
  const message = addBotMessage.call(this, rawMessage, botToken);
  return { ...message, date: Math.floor(message.date / 1000) };
};

function clientRoutes(app, server) {
  const answer = (res, update) => res.json({
    ok: true, result: { update_id: update.updateId, webhook_status: update.webhookStatus },
  });
  app.post('/sendMessage', async (req, res) => {
    const update = { ...server.getCommonFields(req.body.botToken), message: req.body };
    try {
      await server.addUserUpdate(update);
    } catch (error) {
      res.status(400).json({ ok: false, description: String(error.message || error) });
      return;
    }
    server.messageId += 1;
    server.emit('AddedUserMessage');
    answer(res, update);
  });
  app.post('/sendCallback', async (req, res) => {
    const update = {
      ...server.getCommonFields(req.body.botToken),
      callbackQuery: req.body,
      callbackId: server.callbackId,
    };
    server.callbackId += 1;
    try {
      await server.addUserUpdate(update);
    } catch (error) {
      res.status(400).json({ ok: false, description: String(error.message || error) });
      return;
    }
    server.emit('AddedUserCallbackQuery');
    answer(res, update);
  });
  app.all('/bot:token/getWebhookInfo', (req, res) => {
    const webhook = server.webhooks[req.params.token];
    res.json({
      ok: true,
      result: {
        url: webhook ? webhook.url : '',
        has_custom_certificate: false,
        pending_update_count: 0,
        ...(webhook && allowedUpdates(webhook) ? { allowed_updates: allowedUpdates(webhook) } : {}),
      },
    });
  });
  app.post('/sendUpdate', async (req, res) => {
    const { botToken, update } = req.body || {};
    if (!botToken || !update || typeof update !== 'object') {
      res.status(400).json({ ok: false, description: 'expected {botToken, update}' });
      return;
    }
    if (update.update_id === undefined) {
      update.update_id = server.updateId;
      server.updateId += 1;
    }
    const status = await deliver(server, botToken, update);
    res.json({ ok: true, result: { update_id: update.update_id, webhook_status: status } });
  });
}

routes.unshift(clientRoutes); // registered before the package's own routes of the same paths

const server = new TelegramServer({ host: '127.0.0.1', port, storeTimeout: 3600 });

async function stop() {
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
}

server.start().then(() => {
  process.stdout.write(`telegram emulator ready on http://127.0.0.1:${port}\n`);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}).catch((error) => {
  process.stderr.write(`telegram emulator: cannot listen on 127.0.0.1:${port}: ${error}\n`);
  process.exit(1);
});
