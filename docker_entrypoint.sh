#!/usr/bin/env bash
# Container entrypoint: resolve the W&B API key, refuse what cannot work, then `exec` the command.
#
#   (no arguments) | agent [OPTIONS] [SWEEP_ID]   wandb agent for SWEEP_ID, or for $WANDB_SWEEP_ID
#   SWEEP_ID [OPTIONS] | --OPTION ...             the same (a bare sweep id or an agent option comes first)
#   any other command                             run as given, e.g. python -m localsweep run sweeps/grid.yaml
#
# The key comes from WANDB_API_KEY or from the file named by WANDB_API_KEY_FILE (Docker/Kubernetes secrets).
# It is exported for the W&B SDK to read: never printed, never passed as an argument, never written to disk
# (no `wandb login`, so no ~/.netrc). Without a key, a command is refused unless WANDB_MODE is explicitly
# offline or disabled; `wandb agent|sweep|sync|login` need the server and are always refused.
#
# `exec` makes the command this process: signals sent to it reach the command itself. In the image, PID 1
# is dumb-init, which turns SIGTERM (docker stop, Kubernetes) into SIGINT for the whole process group, so
# `wandb agent` (which handles SIGINT only) and the run it started both stop cleanly.
set -Eeuo pipefail

die() {
	printf 'docker_entrypoint.sh: %s\n' "$*" >&2
	exit 64 # EX_USAGE: the container was started wrongly; nothing ran
}

# docker-library's file_env: the variable itself, or a file named by VAR_FILE, never both.
load_api_key() {
	local file="${WANDB_API_KEY_FILE:-}"
	if [[ -z "$file" ]]; then
		return 0
	fi
	if [[ -n "${WANDB_API_KEY:-}" ]]; then
		die "both WANDB_API_KEY and WANDB_API_KEY_FILE are set; set only one of them"
	fi
	if [[ ! -f "$file" || ! -r "$file" ]]; then
		die "WANDB_API_KEY_FILE=$file is not a readable file; mount the secret there or unset the variable"
	fi
	local key
	key="$(<"$file")"
	key="${key%$'\n'}"
	key="${key%$'\r'}"
	if [[ -z "$key" ]]; then
		die "WANDB_API_KEY_FILE=$file is empty; it must hold the key from https://wandb.ai/authorize"
	fi
	if [[ "$key" =~ [[:space:]] ]]; then
		die "WANDB_API_KEY_FILE=$file must hold the key alone on one line (it contains whitespace)"
	fi
	export WANDB_API_KEY="$key"
	unset WANDB_API_KEY_FILE
}

# A W&B sweep id: 8 lowercase letters/digits, optionally prefixed by ENTITY/PROJECT/.
is_sweep_id() {
	[[ "$1" =~ ^([A-Za-z0-9_.-]+/){0,2}[a-z0-9]{8}$ ]]
}

# Set COMMAND to the wandb agent argv for `agent [SWEEP_ID] [OPTIONS]` (the id may also follow the options,
# as `wandb agent` takes it, or come from WANDB_SWEEP_ID).
agent_command() {
	if [[ $# -gt 0 && "$1" != -* ]]; then
		COMMAND=(wandb agent "$@")
	elif [[ -n "${WANDB_SWEEP_ID:-}" ]]; then
		COMMAND=(wandb agent "$@" "$WANDB_SWEEP_ID")
	elif [[ $# -gt 0 ]]; then
		COMMAND=(wandb agent "$@")
	else
		die "no sweep id: pass it as the argument (docker run ... IMAGE <sweep-id>) or set WANDB_SWEEP_ID;" \
			"create one with: wandb sweep sweeps/grid.yaml"
	fi
}

# `wandb agent|sweep|sync|login` talk to the W&B server whatever WANDB_MODE says.
needs_server() {
	[[ "$(basename -- "$1")" == wandb && "${2:-}" =~ ^(agent|sweep|sync|login)$ ]]
}

needs_key() {
	if needs_server "$@"; then
		return 0
	fi
	case "${WANDB_MODE:-}" in
	offline | disabled) return 1 ;;
	*) return 0 ;;
	esac
}

main() {
	if [[ $# -eq 0 ]]; then
		set -- agent
	fi
	if [[ "$1" == agent || "$1" == -* ]] || { is_sweep_id "$1" && ! command -v -- "$1" >/dev/null; }; then
		if [[ "$1" == agent ]]; then
			shift
		fi
		agent_command "$@"
		set -- "${COMMAND[@]}"
	fi

	load_api_key
	if [[ -z "${WANDB_API_KEY:-}" ]] && needs_key "$@"; then
		if needs_server "$@"; then
			die "'$*' talks to the W&B server and needs an API key: set WANDB_API_KEY (e.g. in .env," \
				"docker run --env-file .env) or WANDB_API_KEY_FILE (a mounted secret). Without an account," \
				"sweep offline: python -m localsweep run sweeps/grid.yaml with WANDB_MODE=offline"
		fi
		die "no W&B API key: set WANDB_API_KEY (e.g. in .env, docker run --env-file .env) or" \
			"WANDB_API_KEY_FILE (a mounted secret), or run offline with WANDB_MODE=offline"
	fi
	exec "$@"
}

main "$@"
