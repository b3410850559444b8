/* Supervisor dashboard: how figures, durations, keys and days are written (ES module). */
import { pad } from "./dom.js";

export const NONE = "—";

export const isNum = (v) => typeof v === "number" && Number.isFinite(v);
export const isoDay = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
export const int = (v) => (isNum(v) ? String(Math.round(v)) : NONE);
export const pct = (v) => (isNum(v) ? `${(v * 100).toFixed(1).replace(/\.0$/, "")}%` : NONE);
export const mean = (v) => (isNum(v) ? v.toFixed(2) : NONE);
export const signed = (v) => (isNum(v) ? `${v > 0 ? "+" : ""}${(Math.round(v * 10) / 10).toString()}` : NONE);
export function clock(seconds) { // 75 -> "1:15"
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}
export function duration(v) {
  if (!isNum(v)) return NONE;
  return v < 60 ? `${Math.round(v * 10) / 10} s` : `${clock(v)} min`;
}
export const targetText = (target) => (target % 60 === 0 ? `${target / 60} min` : `${clock(target)} min`);
export const pretty = (key) => {
  const s = String(key == null ? "?" : key).replace(/[_-]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "?";
};
export function dayLabel(key, long) {
  const d = new Date(`${key}T12:00:00`);
  if (Number.isNaN(d.getTime())) return String(key);
  return d.toLocaleDateString("en-GB", long ? { weekday: "short", day: "numeric", month: "short" }
    : { day: "numeric", month: "short" });
}
