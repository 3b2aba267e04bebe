# How the recipe runs its parallel jobs.  Each *_cmd is a job runner with the interface
#     ${cmd} JOB=1:N log/name.JOB.log command ... JOB ...
# utils/run.py runs the jobs on this machine; utils/slurm.py submits them as a Slurm array.
# Choose the backend with SPEECHT5_BACKEND=local|slurm, or replace this link with your own file.
case "${SPEECHT5_BACKEND:-local}" in
    local)
        train_cmd="run.py"
        cuda_cmd="run.py"
        decode_cmd="run.py" ;;
    slurm)
        train_cmd="slurm.py ${SPEECHT5_SLURM_OPTS:-}"
        # the driver sources this file after its options: a training job asks for --ngpu GPUs
        cuda_cmd="slurm.py --gpu ${ngpu:-1} ${SPEECHT5_SLURM_OPTS:-}"
        decode_cmd="slurm.py ${SPEECHT5_SLURM_OPTS:-}" ;;
    *)
        echo "cmd.sh: SPEECHT5_BACKEND must be local or slurm, not '${SPEECHT5_BACKEND}'" >&2
        return 1 2>/dev/null || exit 1 ;;
esac
