using NwFilter.Core.Backends;
using NwFilter.Core.Host;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>
/// Applies a <see cref="FirewallPlan"/> in the lab's host namespace the simple way: one process per command, queries
/// answered by running them, a failed command (not ignoring errors) runs the transaction's rollback and throws. For
/// tests of plans on the real kernel before the product's executor exists on this branch.
/// </summary>
public static class LabPlanRunner
{
    public static void Apply(NetnsLab lab, FirewallPlan plan)
    {
        foreach (var transaction in plan.Transactions)
        {
            var queue = new List<FirewallCommand>(transaction.Commands);
            for (var i = 0; i < queue.Count; i++)
            {
                var command = queue[i];
                var result = lab.RunInHost(command.Program, [.. command.Arguments]);
                if (command.Query is { } query)
                {
                    queue.AddRange(query.FollowUp(result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
                }
                if (!result.Succeeded && !command.IgnoreErrors && !transaction.IgnoreErrors)
                {
                    foreach (var undo in transaction.Rollback)
                    {
                        lab.RunInHost(undo.Program, [.. undo.Arguments]);
                    }
                    throw new ProcessFailedException(result);
                }
            }
        }
    }
}
