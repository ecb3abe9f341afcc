using System.Collections.Concurrent;
using System.Threading.Channels;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Learning;

namespace NwFilter.Core.Tests.TestSupport;

/// <summary>A frame source the test feeds by hand: <see cref="Send"/> puts a frame on the open capture.</summary>
public sealed class FakeFrameSource : IFrameSource
{
    private readonly Channel<CapturedFrame> channel = Channel.CreateUnbounded<CapturedFrame>();

    /// <summary>When set, opening fails with this.</summary>
    public Exception? OpenFailure { get; set; }

    /// <summary>The requests opened, in order.</summary>
    public ConcurrentQueue<CaptureRequest> Requests { get; } = new();

    /// <summary>True once the capture was disposed.</summary>
    public bool Disposed { get; private set; }

    public Task<IFrameCapture> OpenAsync(CaptureRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Requests.Enqueue(request);
        if (OpenFailure is not null)
        {
            throw OpenFailure;
        }
        return Task.FromResult<IFrameCapture>(new Capture(this));
    }

    public void Send(byte[] frame) => channel.Writer.TryWrite(new CapturedFrame(DateTimeOffset.UtcNow, frame));

    /// <summary>Ends the capture as a vanished device would.</summary>
    public void Fail(string why) =>
        channel.Writer.TryComplete(new NwFilterException(Diagnostic.Error("CaptureFailed", why, DiagnosticCategory.ResourceUnavailable)));

    private sealed class Capture(FakeFrameSource owner) : IFrameCapture
    {
        public ChannelReader<CapturedFrame> Frames => owner.channel.Reader;

        public long Dropped => 0;

        public void Dispose() => owner.Disposed = true;
    }
}

/// <summary>An address sink that records every change, and can be told to fail or to report an event.</summary>
public sealed class RecordingSink : IAddressSink
{
    public ConcurrentQueue<AddressChange> Changes { get; } = new();

    public Exception? Failure { get; set; }

    /// <summary>When set, reported to the learner for each change (as the binding layer reports re-instantiation).</summary>
    public Func<AddressChange, IpLearningEvent>? Outcome { get; set; }

    public Task AddressesChangedAsync(IpLearner learner, AddressChange change, CancellationToken cancellationToken)
    {
        Changes.Enqueue(change);
        if (Failure is not null)
        {
            throw Failure;
        }
        if (Outcome is not null)
        {
            learner.Report(Outcome(change));
        }
        return Task.CompletedTask;
    }
}

/// <summary>An event the binding layer could add, for tests of <see cref="IpLearner.Report"/>.</summary>
public sealed record TestReinstantiated(string PortDevice, DateTimeOffset Time, int Count) : IpLearningEvent(PortDevice, Time)
{
    public override string Describe() => $"re-instantiated with {Count} addresses";
}
