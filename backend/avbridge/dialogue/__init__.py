"""Dialogue: the avatar's side of a conversation, worked out by a language model.

    conversation.py  the persona and a bounded memory of turns -> the messages for the model
    replies.py       a streamed reply cut into speakable pieces as it arrives (sans-IO)
    models.py        the models: any OpenAI-compatible endpoint by URL, or the bundled
                     SmolLM2-135M-Instruct run in-process with llama.cpp

The server's chat sessions (server/chat.py) join them to listening, transcripts and speech.
"""
