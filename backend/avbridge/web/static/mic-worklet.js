// The microphone, resampled to 16 kHz mono int16 in 20 ms pieces, for user_audio.
// Linear interpolation after a one-pole low-pass: the voice band survives, and aliasing from a
// 48 kHz capture stays far below what voice-activity detection and transcription notice.
class MicPieces extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;
    this.position = 0;          // where the next output sample falls, in input samples
    this.previous = 0;
    this.smoothed = 0;
    this.alpha = Math.min(1, 2 * Math.PI * 7000 / sampleRate);
    this.piece = new Int16Array(320);
    this.filled = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let peak = 0;
    for (let i = 0; i < channel.length; i++) {
      const x = this.smoothed += this.alpha * (channel[i] - this.smoothed);
      peak = Math.max(peak, Math.abs(channel[i]));
      while (this.position <= i) {
        const frac = this.position - (i - 1);
        const value = this.previous + (x - this.previous) * frac;
        this.piece[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(value * 32767)));
        if (this.filled === this.piece.length) {
          this.port.postMessage({ pcm: this.piece.buffer, peak }, [this.piece.buffer]);
          this.piece = new Int16Array(320);
          this.filled = 0;
        }
        this.position += this.step;
      }
      this.previous = x;
    }
    this.position -= channel.length;
    return true;
  }
}
registerProcessor('mic-pieces', MicPieces);
