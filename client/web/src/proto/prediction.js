// Client-side prediction (PROTOCOL.md §4.8) and reconciliation (§4.5). The step is computed in f32
// (Math.fround after every operation) exactly as the zone does, so a client and a server with the
// same zone configuration agree to the bit and corrections are zero unless the server knows
// something the client does not (another collider, a respawn, a missed input).

const f = Math.fround;
const F32_EPSILON = 2 ** -23;

/** The zone's movement rules a client needs (defaults: the node's zone defaults). */
export function movementModel({ speedMPerS = 7, tickHz = 20, worldSizeM = [1024, 1024], colliders = [] } = {}) {
  return { speedMPerS: f(speedMPerS), dtS: f(1 / tickHz), worldSizeM: worldSizeM.map(f), colliders };
}

function inside(c, x, y) {
  return x > c.minM[0] && x < c.maxM[0] && y > c.minM[1] && y < c.maxM[1];
}

/** One zone tick from `from` along `direction` (length ≤ 1): x then y, clamped to the world, blocked by colliders. */
export function step(model, from, direction) {
  const reach = f(model.speedMPerS * model.dtS);
  const position = from.map(f);
  for (let axis = 0; axis < 2; axis++) {
    const size = model.worldSizeM[axis];
    const wanted = f(position[axis] + f(direction[axis] * reach));
    const bounded = Math.min(Math.max(wanted, 0), f(size - f(F32_EPSILON * size)));
    const candidate = position.slice();
    candidate[axis] = bounded;
    if (!model.colliders.some((c) => inside(c, candidate[0], candidate[1]))) position[axis] = bounded;
  }
  return position;
}

export class Predictor {
  constructor(model) {
    this.model = model;
    this.position = null;
    this.pending = []; // {tick, direction, after} for inputs the server has not applied yet
    this.stats = { reconciliations: 0, corrections: 0, correctionMaxM: 0, lastCorrectionM: 0 };
  }

  /** Places the player at the server's position; the caller replays the inputs after `lastInputTick`. */
  place(position) {
    this.position = position.map(f);
    this.pending = [];
  }

  predict(tick, direction) {
    if (!this.position) return;
    this.position = step(this.model, this.position, direction);
    this.pending.push({ tick, direction, after: this.position });
    if (this.pending.length > 64) this.pending.shift();
  }

  /**
   * The server says our entity is at `serverPosition` after our input `lastInputTick` (null: none
   * yet): reset to it and replay the later inputs. Returns the correction in metres (how far the
   * prediction for that tick was from the server).
   */
  reconcile(serverPosition, lastInputTick) {
    if (!this.position) return 0;
    let predictedThen = null;
    if (lastInputTick !== null) {
      while (this.pending.length && this.pending[0].tick <= lastInputTick) {
        const done = this.pending.shift();
        if (done.tick === lastInputTick) predictedThen = done.after;
      }
    }
    let position = serverPosition.map(f);
    // Snapshot positions are quantised to 1/64 m (§5), and a player placed from a snapshot starts
    // up to half a unit off the server's exact position: within one unit per axis the prediction
    // agrees, and it keeps its own full-precision position rather than jumping by the rounding.
    const error = predictedThen ? Math.hypot(predictedThen[0] - position[0], predictedThen[1] - position[1]) : 0;
    const corrected = predictedThen !== null && predictedThen.some((p, axis) => Math.abs(p - position[axis]) * 64 > 1 + 1e-9);
    if (!corrected && predictedThen) position = predictedThen;
    for (const input of this.pending) {
      position = step(this.model, position, input.direction);
      input.after = position;
    }
    this.position = position;
    this.stats.reconciliations++;
    if (corrected) {
      this.stats.corrections++;
      this.stats.correctionMaxM = Math.max(this.stats.correctionMaxM, error);
    }
    this.stats.lastCorrectionM = corrected ? error : 0;
    return corrected ? error : 0;
  }
}
