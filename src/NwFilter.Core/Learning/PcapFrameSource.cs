using System.Threading.Channels;
using NwFilter.Core.Diagnostics;
using SharpPcap;
using SharpPcap.LibPcap;

namespace NwFilter.Core.Learning;

/// <summary>
/// Captures with libpcap through SharpPcap. Each capture is opened on a short-lived thread that enters the device's
/// network namespace (when one is named), opens and activates the pcap handle there (immediate mode, a small ring
/// buffer, the BPF filter, non-blocking), and returns to its own namespace (the handle's socket stays bound where it
/// was made). The open handle then goes to the process's one <see cref="CaptureLoop"/>, which reads every capture from
/// a single thread. See docs/design/learning.md.
/// </summary>
internal sealed class PcapFrameSource : IFrameSource
{
    public static PcapFrameSource Instance { get; } = new();

    public async Task<IFrameCapture> OpenAsync(CaptureRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        var capture = new PcapCapture(request);
        try
        {
            await capture.Opened.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            capture.Dispose(); // the opening thread may still open the device: it is closed once it has
            throw;
        }
        return capture;
    }

    private sealed class PcapCapture : IFrameCapture
    {
        private readonly CaptureRequest request;
        private readonly Channel<CapturedFrame> channel;
        private readonly TaskCompletionSource opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly object gate = new();
        private CaptureLoop.Registration? registration;
        private bool disposed;
        private long dropped;

        public PcapCapture(CaptureRequest request)
        {
            this.request = request;
            channel = Channel.CreateBounded<CapturedFrame>(
                new BoundedChannelOptions(request.QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true, SingleWriter = true },
                _ => Interlocked.Increment(ref dropped));
            // The opening thread ends as soon as the handle is open: reading is the capture loop's.
            new Thread(Open) { IsBackground = true, Name = "nwfilter-pcapopen" }.Start();
        }

        public Task Opened => opened.Task;

        public ChannelReader<CapturedFrame> Frames => channel.Reader;

        public long Dropped => Interlocked.Read(ref dropped);

        public void Dispose()
        {
            CaptureLoop.Registration? current;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }
                disposed = true;
                current = registration;
            }
            if (current is not null)
            {
                // The loop closes the handle on its next turn; waiting keeps "disposed" meaning "closed".
                CaptureLoop.Shared.Remove(current).Wait(TimeSpan.FromSeconds(5));
            }
            channel.Writer.TryComplete();
        }

        private void Open()
        {
            LibPcapLiveDevice device;
            int descriptor;
            try
            {
                device = OpenDevice();
                descriptor = CaptureLoop.SelectableDescriptor(device.Handle.DangerousGetHandle());
                if (descriptor < 0)
                {
                    device.Close();
                    throw new InvalidOperationException("the pcap handle has no selectable descriptor");
                }
            }
            catch (Exception e)
            {
                var failure = new NwFilterException(Diagnostic.Error("CaptureOpenFailed",
                    $"Cannot capture on '{request.Device}'{(request.NamespaceName is null ? "" : $" in network namespace '{request.NamespaceName}'")}: {e.Message}",
                    DiagnosticCategory.ResourceUnavailable) with { Value = request.Device }, e);
                channel.Writer.TryComplete(failure);
                opened.TrySetException(failure);
                return;
            }
            var handle = device.Handle.DangerousGetHandle();
            var entry = new CaptureLoop.Registration(handle, descriptor,
                (time, data) => channel.Writer.TryWrite(new CapturedFrame(time, data)),
                why => channel.Writer.TryComplete(new NwFilterException(Diagnostic.Error("CaptureFailed",
                    $"Capturing on '{request.Device}' failed: {why}", DiagnosticCategory.ResourceUnavailable) with { Value = request.Device })),
                device.Close);
            lock (gate)
            {
                if (disposed)
                {
                    device.Close();
                    opened.TrySetCanceled();
                    return;
                }
                registration = entry;
                CaptureLoop.Shared.Add(entry);
            }
            opened.TrySetResult();
        }

        private LibPcapLiveDevice OpenDevice()
        {
            using var entry = request.NamespaceName is null ? null : NamespaceEntry.Enter(request.NamespaceName);
            // Listing runs netlink queries, so it sees the namespace this thread is in.
            var pcapInterface = PcapInterface.GetAllPcapInterfaces().FirstOrDefault(i => i.Name == request.Device)
                ?? throw new InvalidOperationException("no such device");
            var device = new LibPcapLiveDevice(pcapInterface);
            try
            {
                device.Open(new DeviceConfiguration
                {
                    Mode = DeviceModes.None,
                    Snaplen = request.Snaplen,
                    ReadTimeout = (int)request.ReadTimeout.TotalMilliseconds,
                    BufferSize = request.BufferSize,
                    Immediate = true,
                });
                device.Filter = request.Filter;
                device.NonBlockingMode = true;
            }
            catch
            {
                device.Close();
                throw;
            }
            return device;
        }
    }
}
