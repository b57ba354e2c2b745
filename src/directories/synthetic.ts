/**
 * A radio-browser-shaped station list of any size, for the import benchmark
 * and the crash test (`headend` must survive kill -9 mid-import). Station i
 * always gets the same stationuuid, so two lists share their stations.
 */
export function syntheticRadioBrowser(count: number, first = 0): string {
  const tags = ['jazz', 'rock', 'pop', 'news', 'talk', 'classical', 'electronic', 'ambient'];
  const codecs = ['MP3', 'AAC', 'OGG'];
  const parts: string[] = [];
  for (let i = first; i < first + count; i++) {
    const hex = i.toString(16).padStart(12, '0');
    parts.push(JSON.stringify({
      changeuuid: `00000000-0000-4000-8000-${hex}`,
      stationuuid: `5ca1ab1e-0000-4000-8000-${hex}`,
      name: `Synthetic Station ${i}`,
      url: `http://radio${i % 97}.example.net/stream${i}`,
      url_resolved: `http://radio${i % 97}.example.net/stream${i}.mp3`,
      homepage: `https://station${i}.example.net/`,
      favicon: '',
      tags: `${tags[i % tags.length]},${tags[(i * 7) % tags.length]}`,
      country: 'Testland',
      countrycode: ['DE', 'FR', 'GB', 'US'][i % 4],
      language: 'english',
      votes: i % 1000,
      codec: codecs[i % codecs.length],
      bitrate: [64, 128, 192][i % 3],
      hls: 0,
      lastcheckok: 1,
      clickcount: i % 500,
    }));
  }
  return `[\n${parts.join(',\n')}\n]\n`;
}
