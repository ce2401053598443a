#!/usr/bin/env bash
# The audit step of the GitHub Action (action.yml). One audit, written as JSON; then that JSON
# rendered as SARIF (code scanning), Markdown (the job summary) and the log's format, so the
# image runs once whatever is shown. Exits with the audit's code: 0 passes, 1 is a verdict the
# fail-on setting fails, 2 an error (nothing is rendered then).
#
# Reads the action's inputs as INPUT_* variables. A composite action does not set them by itself,
# so action.yml passes each in the step's env; tests/action.rs checks that the two agree.
# ROFS_AUDIT_BIN names the binary (tests point it at theirs) [default: rofs-audit on PATH].
set -euo pipefail

bin=${ROFS_AUDIT_BIN:-rofs-audit}
image=${INPUT_IMAGE:-}
file=${INPUT_FILE:-}
format=${INPUT_FORMAT:-text}
sarif=${INPUT_SARIF:-rofs-audit.sarif}

# The settings the CLI also reads from the environment. An empty input exports nothing, so the
# config's setting, or the default, stays.
if [[ -n ${INPUT_CONFIG:-} ]]; then export ROFS_AUDIT_CONFIG=$INPUT_CONFIG; fi
if [[ -n ${INPUT_PROFILE:-} ]]; then export ROFS_AUDIT_PROFILE=$INPUT_PROFILE; fi
if [[ -n ${INPUT_FAIL_ON:-} ]]; then export ROFS_AUDIT_FAIL_ON=$INPUT_FAIL_ON; fi

# RUNNER_TEMP is GitHub's; anywhere else, a directory of our own, removed on exit.
dir=${RUNNER_TEMP:-}
if [[ -z $dir ]]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
report=$dir/rofs-audit.json

# Neither an image nor a file: the config's targets.
args=(audit)
if [[ -n $image ]]; then args+=("$image"); fi
if [[ -n $file ]]; then args+=(-f "$file"); fi
# A report left by an earlier use of the action in this job must not pass for this one's.
rm -f "$report"
code=0
"$bin" "${args[@]}" --format json -o "$report" || code=$?
if ((code > 1)); then
  echo "rofs-audit: the audit ended with exit code $code and wrote no report; its error is above" >&2
  exit "$code"
fi
if [[ ! -s $report ]]; then
  echo "rofs-audit: $bin exited $code but wrote no report to $report; point ROFS_AUDIT_BIN at rofs-audit itself" >&2
  exit 2
fi

# merge knows a report's built-in profile by its name; a profile of one's own (a file) must be
# given again.
profile=()
if [[ -n ${INPUT_PROFILE:-} ]]; then profile=(--profile "$INPUT_PROFILE"); fi

# The report in a format (then merge's flags). merge exits 1 on the same verdicts as the audit,
# which is no error here: only a code above 1 stops the step.
render() {
  local rendered=0
  "$bin" merge "$report" "${profile[@]}" --format "$@" || rendered=$?
  if ((rendered > 1)); then
    echo "rofs-audit: rendering the report as $1 failed (exit $rendered); its error is above" >&2
    exit "$rendered"
  fi
}

mkdir -p "$(dirname "$sarif")"
render sarif -o "$sarif"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  # The upload step runs only when there is a SARIF to upload.
  echo "sarif=$sarif" >>"$GITHUB_OUTPUT"
  echo "report=$report" >>"$GITHUB_OUTPUT"
fi
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  render markdown >>"$GITHUB_STEP_SUMMARY"
fi
render "$format"
exit "$code"
