// The seed's authenticated Node.js client: the ws package can send the Authorization header that the
// browser's WebSocket API cannot. Run against `jacws serve examples/chat.py`:
//
//   cd examples && npm install
//   JACWS_URL=ws://127.0.0.1:8000/websocket JACWS_TOKEN=<token from /user/login> node ws_client.mjs
//
// It prints every message as a JSON line, sends itself a chat with the seed's send_chat_to_user walker,
// and exits once the chat and the walker's answer have arrived.
import WebSocket from "ws";

const url = process.env.JACWS_URL || "ws://localhost:8000/websocket";
const token = process.env.JACWS_TOKEN;

//####################################################//
//           AUTHENTICATED - NPM WS LIBRARY           //
//####################################################//
const client = new WebSocket(url, {
  headers: {
    Authorization: `Bearer ${token}`,
  },
});

const timer = setTimeout(() => {
  console.error("no chat and answer within 10 s");
  process.exit(1);
}, 10_000);

let chatArrived = false;
let answerArrived = false;
const finish = () => {
  if (chatArrived && answerArrived) {
    clearTimeout(timer);
    client.close();
  }
};

client.on("message", (raw) => {
  const msg = JSON.parse(raw.toString());
  console.log(JSON.stringify(msg));
  if (msg.status !== undefined && msg.reports !== undefined) {
    answerArrived = true; // the walker's response comes after its notifications
    finish();
  }
  switch (msg.type) {
    case "connection":
      // TRIGGER WALKER EVENT: a chat to this user's own root, over the socket
      client.send(
        JSON.stringify({
          type: "walker",
          walker: "send_chat_to_user",
          response: true,
          context: { root_id: msg.data.root_id },
        }),
      );
      break;
    case "chat":
      chatArrived = true;
      finish();
      break;
  }
});

client.on("error", (error) => {
  console.error(error.message);
  process.exit(1);
});
