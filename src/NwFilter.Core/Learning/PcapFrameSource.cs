using System.Threading.Channels;
using NwFilter.Core.Diagnostics;
using SharpPcap;
using SharpPcap.LibPcap;

namespace NwFilter.Core.Learning;

/// <summary>
/// Captures with libpcap through SharpPcap. Each capture owns one dedicated thread: it enters the device's network
/// namespace (when one is named), opens and activates the pcap handle there (immediate mode, a read timeout, the BPF
/// filter), returns to its own namespace (the handle's socket stays bound where it was made), then reads frames until
/// disposed. See docs/design/learning.md.
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
            capture.Dispose(); // the thread may still open the device: make it stop once it has
            throw;
        }
        return capture;
    }

    private sealed class PcapCapture : IFrameCapture
    {
        private readonly CaptureRequest request;
        private readonly Channel<CapturedFrame> channel;
        private readonly TaskCompletionSource opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Thread thread;
        private volatile bool stopping;
        private long dropped;

        public PcapCapture(CaptureRequest request)
        {
            this.request = request;
            channel = Channel.CreateBounded<CapturedFrame>(
                new BoundedChannelOptions(request.QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true, SingleWriter = true },
                _ => Interlocked.Increment(ref dropped));
            thread = new Thread(Run) { IsBackground = true, Name = $"nwfilter-capture-{request.Device}" };
            thread.Start();
        }

        public Task Opened => opened.Task;

        public ChannelReader<CapturedFrame> Frames => channel.Reader;

        public long Dropped => Interlocked.Read(ref dropped);

        public void Dispose()
        {
            stopping = true;
            if (Thread.CurrentThread != thread)
            {
                // The loop notices within one read timeout.
                thread.Join(request.ReadTimeout * 4 + TimeSpan.FromSeconds(1));
            }
        }

        private void Run()
        {
            LibPcapLiveDevice device;
            try
            {
                device = OpenDevice();
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
            opened.TrySetResult();
            try
            {
                ReadLoop(device);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(new NwFilterException(Diagnostic.Error("CaptureFailed",
                    $"Capturing on '{request.Device}' failed: {e.Message}", DiagnosticCategory.ResourceUnavailable) with { Value = request.Device }, e));
            }
            finally
            {
                device.Close();
            }
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
                    Immediate = true,
                });
                device.Filter = request.Filter;
            }
            catch
            {
                device.Close();
                throw;
            }
            return device;
        }

        private void ReadLoop(LibPcapLiveDevice device)
        {
            while (!stopping)
            {
                switch (device.GetNextPacket(out var packet))
                {
                    case GetPacketStatus.PacketRead:
                        var time = new DateTimeOffset(DateTime.SpecifyKind(packet.Header.Timeval.Date, DateTimeKind.Utc));
                        channel.Writer.TryWrite(new CapturedFrame(time, packet.Data.ToArray()));
                        break;
                    case GetPacketStatus.ReadTimeout:
                        break;
                    case GetPacketStatus.NoRemainingPackets:
                        return;
                    default:
                        throw new IOException(device.LastError);
                }
            }
        }
    }
}
