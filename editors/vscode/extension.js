// The Dialect extension: starts `dialect lsp` and connects VS Code to it.
// Plain JavaScript so that nothing needs building: `npm install` fetches the
// language client, and the folder can be copied into ~/.vscode/extensions.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration('dialect');
  const command = config.get('server.path') || 'dialect';
  const args = ['lsp', ...(config.get('server.extraArgs') || [])];
  return { command, args };
}

async function start(context) {
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'dialect' }],
    synchronize: {
      // The server re-reads a file another program changes, and the prompt
      // folder when a recording is added.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{*.flow,prompts/**}'),
    },
  };
  client = new LanguageClient('dialect', 'Dialect', serverOptions(), clientOptions);
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('dialect.restartServer', async () => {
      if (client) {
        await client.stop();
      }
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('dialect.server') && client) {
        await client.stop();
        await start(context);
      }
    }),
  );
  try {
    await start(context);
  } catch (e) {
    vscode.window.showErrorMessage(
      `Dialect: cannot start "${serverOptions().command} lsp" (${e.message}). ` +
        'Set "dialect.server.path" to the dialect program.',
    );
  }
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
