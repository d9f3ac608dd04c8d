#!/usr/bin/env bash
# Prints the privacy/utility table of docs/MODEL.md as Markdown: for each data set and each target
# ε in {0.5, 1, 3, 8}, one real `cohort demo` run (coordinator and participant processes, record-level
# DP-FedSGD, signed ledger) with its σ, rounds run, the ledger's ε and whether the ledger verified,
# and the final held-out metric (WDBC: accuracy; credit: ROC AUC); then the NON-PRIVATE federated
# baseline (`cohort demo --non-private`: same splits, rounds and q, no clipping, no noise) and the
# centralised non-private reference the demo prints.
#
# Usage: Scripts/privacy_table.sh [--epsilons "0.5 1 3 8"] [--datasets "wdbc credit"] [--keep DIR]
# Needs: the Swift toolchain, jq. Builds in release mode first. Takes several minutes per run.
set -euo pipefail
cd "$(dirname "$0")/.."

epsilons="0.5 1 3 8"
datasets="wdbc credit"
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --epsilons) epsilons="$2"; shift 2 ;;
        --datasets) datasets="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        *) echo "error: unknown argument $1 (use --epsilons, --datasets, --keep) [privacy_table.usage]" >&2; exit 64 ;;
    esac
done
command -v jq >/dev/null || { echo "error: jq is needed to read the demo's JSON; apt-get install jq [privacy_table.no_jq]" >&2; exit 2; }

Scripts/bootstrap.sh >&2
swift build -c release --product cohort >&2
swift build -c release --product cohort-coordinator >&2
swift build -c release --product cohort-participant >&2
cohort=.build/release/cohort

if [ -n "$keep" ]; then mkdir -p "$keep"; work="$(cd "$keep" && pwd)"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

metric_of() {  # dataset -> jq path of the reported metric
    if [ "$1" = wdbc ]; then echo accuracy; else echo roc_auc; fi
}

rows=""
for dataset in $datasets; do
    metric=$(metric_of "$dataset")
    central=""
    for epsilon in $epsilons; do
        dir="$work/$dataset-eps$epsilon"
        echo "running: $cohort demo --dataset $dataset --target-epsilon $epsilon --json --workdir $dir" >&2
        json=$("$cohort" demo --dataset "$dataset" --target-epsilon "$epsilon" --json --workdir "$dir")
        echo "$json" > "$work/$dataset-eps$epsilon.json"
        row=$(echo "$json" | jq -r --arg m "$metric" --arg e "$epsilon" \
            '"| \(.dataset) | \($e) | \(.noise_multiplier * 10000 | round / 10000) | \(.rounds) | \(.epsilon * 1000 | round / 1000) | \(if .ledger_verified then "yes" else "NO" end) | \(.federated[$m] * 1000 | round / 1000) |"')
        rows+="$row"$'\n'
        central=$(echo "$json" | jq -r --arg m "$metric" '.centralised_reference[$m] * 1000 | round / 1000')
    done
    dir="$work/$dataset-non-private"
    echo "running: $cohort demo --dataset $dataset --non-private --json --workdir $dir" >&2
    json=$("$cohort" demo --dataset "$dataset" --non-private --json --workdir "$dir")
    echo "$json" > "$work/$dataset-non-private.json"
    row=$(echo "$json" | jq -r --arg m "$metric" \
        '"| \(.dataset) | ∞ (federated, NOT PRIVATE: no clipping, no noise) | 0 | \(.rounds) | — | — | \(.federated[$m] * 1000 | round / 1000) |"')
    rows+="$row"$'\n'
    [ -z "$central" ] && central=$(echo "$json" | jq -r --arg m "$metric" '.centralised_reference[$m] * 1000 | round / 1000')
    rows+="| $dataset | ∞ (centralised, NOT PRIVATE) | 0 | — | — | — | $central |"$'\n'
done

echo "| data set | target ε (δ = 1e-5) | σ | rounds run | ledger ε | ledger verifies | held-out metric (WDBC accuracy, credit ROC AUC) |"
echo "|---|---|---|---|---|---|---|"
printf "%s" "$rows"
