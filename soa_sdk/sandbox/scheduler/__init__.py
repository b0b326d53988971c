"""The sandbox's stand-in for ECS's service scheduler: what runs follows what was applied.

moto keeps ECS services but runs no task. This process watches what moto holds (through the
AWS stand-in's change feed, :mod:`.feed`), works out what should run (:mod:`.placements`: an
ECS service's ``desiredCount`` instances of its task definition's fake-service container),
and starts and stops the workload host's instances to match (:mod:`.reconciler`), then
reports the counts back into moto (``runningCount``, ``deployments``). The loop and why it
long-polls instead of polling each account: :mod:`.loop`. Whether boto3, the SDK or
Terraform made the ECS service makes no difference.

EC2 Auto Scaling groups place too (:mod:`.autoscaling`): ``DesiredCapacity`` instances of
what the group's launch template version's user data boots (the ``ec2_runtime`` module's
boot script), rolled on a new version, stopped at capacity 0.

Left out: EKS node groups are read but place nothing yet (step 1 still starts the workloads
of EKS runtimes on the workload host itself); step 1 waits for what this scheduler runs for an
EC2 runtime whose folder Terraform applied.
"""
