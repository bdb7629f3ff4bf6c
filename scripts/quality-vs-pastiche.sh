#!/usr/bin/env bash
# Quality benchmark: nstyle configurations and PyPI pastiche 1.6.0 on the same image pairs, in one
# run, scored by `nstyle eval` into one Markdown table per size. See docs/quality.md.
#
# Usage: scripts/quality-vs-pastiche.sh [options]
#   --pairs LIST           starry,scream,shipwreck (default: all three); tubingen is the content;
#                          astronaut: the demo's photo (a portrait none of the tuning used) ×
#                          starry_night.
#                          Images from $NSTYLE_SHARED_IMAGES or <repo>/../shared/images; when
#                          those are missing, the demo pair ($NSTYLE_DEMO_DIR or
#                          ~/.cache/nstyle/demo-v1/{content,style}.png) is used instead.
#   --sizes LIST           longest sides of the results, e.g. 256,512 (default: 256)
#   --nstyle 'LABEL=ARGS'  an nstyle row: a label and extra `nstyle run` arguments; repeatable
#                          (default: 'default='), e.g. --nstyle 'lite=--set backbone=lite'
#   --pastiche-steps LIST  pastiche L-BFGS step counts (default: 100,200,400)
#   --device DEV           device for nstyle run and eval (default: cpu; pastiche is CPU-only)
#   --out DIR              output directory (default: <repo>/out/quality-<date>)
#   --quick                smoke test: size 128, pastiche steps 20,40, nstyle --set iterations=40
#                          (explicit --sizes/--pastiche-steps still win)
#   -h, --help             this text
# Environment: NSTYLE_BIN (default <repo>/target/release/nstyle), PASTICHE (default: `pastiche`
#   on PATH, else ~/.cache/nstyle/venv-torch-2.11.0/bin/pastiche).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "quality-vs-pastiche: $*" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(git -C "$root" rev-parse --show-toplevel 2>/dev/null || echo "$root")"

pairs_opt="" sizes_opt="" steps_opt="" out_opt="" quick=0 device=cpu
nstyle_rows=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) [[ $# -ge 2 ]] || die "--pairs needs a value"; pairs_opt="$2"; shift 2 ;;
    --sizes) [[ $# -ge 2 ]] || die "--sizes needs a value"; sizes_opt="$2"; shift 2 ;;
    --nstyle) [[ $# -ge 2 ]] || die "--nstyle needs LABEL=ARGS"; nstyle_rows+=("$2"); shift 2 ;;
    --pastiche-steps) [[ $# -ge 2 ]] || die "--pastiche-steps needs a value"; steps_opt="$2"; shift 2 ;;
    --device) [[ $# -ge 2 ]] || die "--device needs a value"; device="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a value"; out_opt="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

if [[ $quick -eq 1 ]]; then
  sizes="${sizes_opt:-128}"; steps="${steps_opt:-20,40}"; nstyle_extra=(--set iterations=40)
else
  sizes="${sizes_opt:-256}"; steps="${steps_opt:-100,200,400}"; nstyle_extra=()
fi
[[ ${#nstyle_rows[@]} -gt 0 ]] || nstyle_rows=("default=")
IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a step_list <<<"$steps"
for n in "${size_list[@]}" "${step_list[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "not a positive integer in --sizes/--pastiche-steps: '$n'"
done
labels=()
for row in "${nstyle_rows[@]}"; do
  [[ "$row" == *=* ]] || die "--nstyle wants LABEL=ARGS (e.g. 'default='), got '$row'"
  label="${row%%=*}"
  [[ "$label" =~ ^[A-Za-z0-9._+-]+$ ]] || die "nstyle label must be [A-Za-z0-9._+-]+: '$label'"
  [[ ! "$label" =~ ^pastiche- ]] || die "nstyle label may not start with pastiche-: '$label'"
  for l in "${labels[@]+"${labels[@]}"}"; do [[ "$l" != "$label" ]] || die "duplicate label: $label"; done
  labels+=("$label")
done
# The reference of the ratio column: the pastiche row with the most steps.
ref_steps=0
for s in "${step_list[@]}"; do if (( s > ref_steps )); then ref_steps=$s; fi; done

# Images.
shared="${NSTYLE_SHARED_IMAGES:-$root/../shared/images}"
demo="${NSTYLE_DEMO_DIR:-$HOME/.cache/nstyle/demo-v1}"
pair_names=() pair_content=() pair_style=()
if [[ -f "$shared/tubingen.jpg" ]]; then
  IFS=, read -r -a wanted <<<"${pairs_opt:-starry,scream,shipwreck}"
  for p in "${wanted[@]}"; do
    content="$shared/tubingen.jpg"
    case "$p" in
      starry) f=starry_night.jpg ;;
      scream) f=the_scream.jpg ;;
      shipwreck) f=shipwreck.jpg ;;
      astronaut) f=starry_night.jpg content="$demo/content.png" ;;
      *) die "unknown pair '$p' (starry, scream, shipwreck, astronaut)" ;;
    esac
    [[ -f "$shared/$f" ]] || die "missing $shared/$f"
    [[ -f "$content" ]] || die "missing $content (run 'make demo-images')"
    pair_names+=("$p"); pair_content+=("$content"); pair_style+=("$shared/$f")
  done
else
  [[ -f "$demo/content.png" && -f "$demo/style.png" ]] ||
    die "no test images: neither $shared/tubingen.jpg nor $demo/{content,style}.png (run 'make demo')"
  [[ -z "$pairs_opt" ]] || echo "note: $shared has no tubingen.jpg; --pairs ignored, using the demo pair" >&2
  pair_names+=(demo); pair_content+=("$demo/content.png"); pair_style+=("$demo/style.png")
fi

# Tools.
nstyle="${NSTYLE_BIN:-$root/target/release/nstyle}"
for _ in 1 2 3 4 5 6; do if [[ -x "$nstyle" ]]; then break; fi; sleep 10; done  # may be mid-rebuild
[[ -x "$nstyle" ]] || die "$nstyle is missing: build it first (make)"
pastiche="${PASTICHE:-$(command -v pastiche || echo "$HOME/.cache/nstyle/venv-torch-2.11.0/bin/pastiche")}"
[[ -x "$pastiche" ]] || die "pastiche not found: put the venv's bin on PATH or set PASTICHE"
pybin="$(dirname "$pastiche")/python"

out="${out_opt:-$root/out/quality-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out/logs" "$out/images"
out="$(cd "$out" && pwd)"
tsv="$out/raw.tsv" md="$out/table.md"

# Machine facts: timings compare only within one run.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_model="$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//' || true)"
if grep -qw avx512_bf16 /proc/cpuinfo; then bf16=yes; else bf16=no; fi
load_start="$(loadavg)"
{
  echo "# nstyle vs pastiche quality, $(date '+%Y-%m-%d %H:%M:%S %Z')"
  echo
  echo "- machine: ${cpu_model:-unknown CPU}; avx512_bf16 in /proc/cpuinfo: $bf16; nproc $(nproc); loadavg at start $load_start"
  echo "- nstyle: $("$nstyle" --version 2>/dev/null || echo '?') at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (dirty tree)'), device $device, seed 1, extra args: ${nstyle_extra[*]:-none}"
  echo "- pastiche: $("$pastiche" --version 2>/dev/null | tail -n 1 || echo '?'), cpu, L-BFGS, content init, --size N --style-size N, seed 1"
  echo "- pairs: ${pair_names[*]}; sizes: ${size_list[*]}; pastiche steps: ${step_list[*]}; nstyle rows: ${nstyle_rows[*]}"
  echo
} | tee "$md"

printf 'size\tpair\trun\tstatus\twall_s\tevals\tssim\tstyle_distance\tcontent_distance\twidth\theight\timage\n' >"$tsv"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
png_size() {  # WIDTH HEIGHT of a PNG, from its IHDR chunk
  od -An -tu1 -j16 -N8 "$1" 2>/dev/null |
    awk '{ if (NF == 8) print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}
json_num() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2" | head -n 1; }

# score SIZE PAIR RUN STATUS WALL EVALS IMAGE CONTENT STYLE [SCORED_IMAGE]: evaluates, appends a TSV row.
score() {
  local size=$1 pair=$2 run=$3 status=$4 wall=$5 evals=$6 image=$7 content=$8 style=$9
  local scored="${10:-$7}" ssim=- sdist=- cdist=- w=- h=- json="$out/logs/$2-$1-$3.eval.json"
  if [[ $status == ok ]]; then
    read -r w h < <(png_size "$scored") || true
    if "$nstyle" eval --output "$scored" --content "$content" --style "$style" --json --device "$device" \
        >"$json" 2>"$out/logs/$pair-$size-$run.eval.log"; then
      ssim="$(json_num ssim "$json")"; sdist="$(json_num style_distance "$json")"
      cdist="$(json_num content_distance "$json")"
      [[ -n $ssim && -n $sdist ]] || { status=EVAL_FAILED; ssim=- sdist=- cdist=-; }
    else
      status=EVAL_FAILED
    fi
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$pair" "$run" "$status" "$wall" \
    "$evals" "$ssim" "$sdist" "${cdist:--}" "${w:--}" "${h:--}" "${image#"$out"/}" >>"$tsv"
  printf '  %-18s %-11s wall %6s s  evals %5s  ssim %-8.8s style %-8.8s\n' "$run" "$status" "$wall" "$evals" "$ssim" "$sdist"
}

for size in "${size_list[@]}"; do
  mkdir -p "$out/images/$size"
  for i in "${!pair_names[@]}"; do
    pair="${pair_names[$i]}" content="${pair_content[$i]}" style="${pair_style[$i]}"
    echo "== $pair at $size px ($(basename "$content") x $(basename "$style"))"
    ref_w="" ref_h=""
    for row in "${nstyle_rows[@]}"; do
      label="${row%%=*}" args="${row#*=}"
      read -r -a extra <<<"$args"
      img="$out/images/$size/$pair-$label.png" log="$out/logs/$pair-$size-$label.log"
      t0=$(now)
      if "$nstyle" run --content "$content" --style "$style" --output "$img" --size "$size" --seed 1 \
          --device "$device" "${nstyle_extra[@]+"${nstyle_extra[@]}"}" "${extra[@]+"${extra[@]}"}" \
          >"$log" 2>&1 && [[ -s "$img" ]]; then
        status=ok
      else
        status=FAILED
      fi
      wall=$(elapsed "$t0" "$(now)")
      evals="$(sed -n 's/.*iterations (\([0-9]*\) evaluations).*/\1/p' "$log" | tail -n 1)"
      score "$size" "$pair" "$label" "$status" "$wall" "${evals:--}" "$img" "$content" "$style"
      if [[ $status == ok && -z $ref_w ]]; then read -r ref_w ref_h < <(png_size "$img") || true; fi
    done
    for n in "${step_list[@]}"; do
      run="pastiche-$n" img="$out/images/$size/$pair-pastiche-$n.png" log="$out/logs/$pair-$size-pastiche-$n.log"
      t0=$(now)
      if PYTHONWARNINGS=ignore "$pastiche" --content "$content" --styles "$style" --output "$img" \
          --size "$size" --style-size "$size" --num-steps "$n" --optimizer lbfgs --device cpu --seed 1 \
          --info-step "$n" >"$log" 2>&1 && [[ -s "$img" ]]; then
        status=ok
      else
        status=FAILED
      fi
      wall=$(elapsed "$t0" "$(now)")
      scored="$img"
      # Both tools round the longest side to SIZE and the other side to nearest; should they ever
      # disagree by a pixel, score pastiche's result resized to nstyle's size (kept as *-scored.png).
      if [[ $status == ok && -n $ref_w ]]; then
        read -r pw ph < <(png_size "$img") || true
        if [[ "$pw $ph" != "$ref_w $ref_h" ]]; then
          scored="${img%.png}-scored.png"
          echo "  note: pastiche made ${pw}x$ph, nstyle ${ref_w}x$ref_h; scoring $(basename "$scored")" | tee -a "$out/notes.txt"
          "$pybin" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").resize((int(sys.argv[3]), int(sys.argv[4])), Image.LANCZOS).save(sys.argv[2])' \
            "$img" "$scored" "$ref_w" "$ref_h" 2>>"$log" || status=FAILED
        fi
      fi
      # pastiche's L-BFGS is torch.optim.LBFGS(max_iter=1): one evaluation per step.
      score "$size" "$pair" "$run" "$status" "$wall" "$n" "$img" "$content" "$style" "$scored"
    done
  done
done
load_end="$(loadavg)"

# The tables, from the TSV.
{
  for size in "${size_list[@]}"; do
    echo "## $size px"
    echo
    echo "| pair | run | wall s | evals | SSIM | style dist | wall ÷ pastiche-$ref_steps |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    awk -F'\t' -v size="$size" -v ref="pastiche-$ref_steps" '
      NR == 1 || $1 != size { next }
      { n++; pair[n] = $2; run[n] = $3; st[n] = $4; wall[n] = $5; ev[n] = $6; ssim[n] = $7; sd[n] = $8
        if (!($2 in order)) { order[$2] = ++np; names[np] = $2 }
        if ($3 == ref && $4 != "FAILED") refwall[$2] = $5 }
      function fmt(x) { return x == "-" ? "-" : sprintf("%.4f", x) }
      END {
        for (k = 1; k <= np; k++) {
          p = names[k]
          for (i = 1; i <= n; i++) {
            if (pair[i] != p) continue
            ratio = (st[i] != "FAILED" && refwall[p] > 0) ? sprintf("%.2f", wall[i] / refwall[p]) : "-"
            w = st[i] == "FAILED" ? "FAILED" : wall[i]
            s = st[i] == "EVAL_FAILED" ? "eval FAILED" : fmt(ssim[i])
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", p, run[i], w, ev[i], s, fmt(sd[i]), ratio
          }
        }
        print ""
        for (k = 1; k <= np; k++) {
          p = names[k]; line = ""
          for (i = 1; i <= n; i++) {
            if (pair[i] != p || run[i] ~ /^pastiche-/) continue
            for (j = 1; j <= n; j++) {
              if (pair[j] != p || run[j] !~ /^pastiche-/) continue
              if (ssim[i] == "-" || ssim[j] == "-") v = "cannot be compared (a run failed) with"
              else {
                ge = ssim[i] + 0 >= ssim[j] + 0; le = sd[i] + 0 <= sd[j] + 0
                ge2 = ssim[j] + 0 >= ssim[i] + 0; le2 = sd[j] + 0 <= sd[i] + 0
                if (ge && le && ge2 && le2) v = "ties"
                else if (ge && le) v = "**dominates**"
                else if (ge2 && le2) v = "*is dominated by*"
                else v = "is not comparable to"
              }
              line = line sprintf("%s%s %s %s", line == "" ? "" : "; ", run[i], v, run[j])
            }
          }
          printf "- %s: %s\n", p, line
        }
        print ""
      }' "$tsv"
  done
  echo "Dominates = SSIM ≥ and style distance ≤ (nstyle row vs pastiche row). Loadavg at start $load_start, at end $load_end."
  if [[ -s "$out/notes.txt" ]]; then echo; sed 's/^ *//' "$out/notes.txt"; fi
} >"$md.body"
echo
cat "$md.body"
cat "$md.body" >>"$md"
rm -f "$md.body"
echo
echo "wrote $md, $tsv, images under $out/images, logs under $out/logs"
failed=$(awk -F'\t' 'NR > 1 && $4 != "ok"' "$tsv" | wc -l)
[[ $failed -eq 0 ]] || { echo "$failed run(s) failed: see $out/logs" >&2; exit 1; }
