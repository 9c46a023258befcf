// Top-down canvas of the area of interest: the 3 × 3 block of 32 m cells around our cell (§4.7),
// centred on our predicted position, world y pointing up the screen.

const CELL_M = 32;
const VIEW_M = 104; // a little more than the 96 m block
const COLOURS = { self: '#2ecc40', player: '#0074d9', npc: '#ff4136', loot: '#ffdc00' };

export function draw(canvas, { self, others, entity }) {
  const ctx = canvas.getContext('2d');
  const size = Math.min(canvas.width, canvas.height);
  const scale = size / VIEW_M;
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!self) {
    ctx.fillStyle = '#aaa';
    ctx.font = '16px sans-serif';
    ctx.fillText('waiting for the world…', 20, 30);
    return;
  }
  const toScreen = ([x, y]) => [canvas.width / 2 + (x - self[0]) * scale, canvas.height / 2 - (y - self[1]) * scale];
  // The AOI block: our cell ± 1.
  const cx = Math.floor(self[0] / CELL_M);
  const cy = Math.floor(self[1] / CELL_M);
  ctx.strokeStyle = '#333';
  ctx.lineWidth = 1;
  for (let i = -1; i <= 2; i++) {
    const [x0, y0] = toScreen([(cx + i) * CELL_M, (cy - 1) * CELL_M]);
    const [x1, y1] = toScreen([(cx + i) * CELL_M, (cy + 2) * CELL_M]);
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    const [a0, b0] = toScreen([(cx - 1) * CELL_M, (cy + i) * CELL_M]);
    const [a1, b1] = toScreen([(cx + 2) * CELL_M, (cy + i) * CELL_M]);
    ctx.beginPath();
    ctx.moveTo(a0, b0);
    ctx.lineTo(a1, b1);
    ctx.stroke();
  }
  ctx.font = '10px monospace';
  for (const e of others) {
    const [sx, sy] = toScreen(e.position);
    ctx.fillStyle = COLOURS[e.kind] ?? '#fff';
    ctx.beginPath();
    if (e.kind === 'npc') {
      ctx.moveTo(sx, sy - 7);
      ctx.lineTo(sx + 6, sy + 5);
      ctx.lineTo(sx - 6, sy + 5);
      ctx.closePath();
      ctx.fill();
    } else if (e.kind === 'loot') {
      ctx.fillRect(sx - 4, sy - 4, 8, 8);
    } else {
      ctx.arc(sx, sy, 6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.fillStyle = '#ccc';
    ctx.fillText(String(e.id), sx + 8, sy - 6);
  }
  const [sx, sy] = toScreen(self);
  ctx.fillStyle = COLOURS.self;
  ctx.beginPath();
  ctx.arc(sx, sy, 8, 0, 2 * Math.PI);
  ctx.fill();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 2;
  ctx.stroke();
  ctx.fillStyle = '#fff';
  ctx.fillText(`${entity} (you)`, sx + 10, sy - 8);
}
