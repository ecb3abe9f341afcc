using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace NwFilter.Core.Host;

/// <summary>
/// Runs programs with <see cref="ProcessStartInfo.ArgumentList"/> (no shell), captures stdout and stderr, feeds stdin,
/// and kills the whole process tree on timeout or cancellation. Children run with <c>LC_ALL=C</c> so that the
/// messages we parse do not change with the host's locale.
/// </summary>
internal sealed class ProcessRunner : IProcessRunner
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public static ProcessRunner Default { get; } = new();

    public async Task<ProcessResult> RunAsync(ProcessRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();

        var startInfo = new ProcessStartInfo(request.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = request.StandardInput is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Utf8NoBom,
            StandardErrorEncoding = Utf8NoBom,
            StandardInputEncoding = request.StandardInput is null ? null : Utf8NoBom,
        };
        foreach (var argument in request.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["LC_ALL"] = "C";

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new ProcessResult(request, ProcessResult.NotStartedExitCode, string.Empty, $"{request.Program}: {e.Message}", stopwatch.Elapsed);
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var stdin = request.StandardInput is null ? Task.CompletedTask : WriteInputAsync(process, request.StandardInput);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (request.Timeout is { } timeout)
        {
            deadline.CancelAfter(timeout);
        }

        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            timedOut = true;
        }

        await stdin.ConfigureAwait(false);
        var output = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        stopwatch.Stop();
        return new ProcessResult(request, timedOut ? -1 : process.ExitCode, output, error, stopwatch.Elapsed, timedOut);
    }

    private static async Task WriteInputAsync(Process process, string text)
    {
        try
        {
            await process.StandardInput.WriteAsync(text).ConfigureAwait(false);
            await process.StandardInput.FlushAsync().ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited (or was killed) without reading all its input; its exit code tells the story.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
